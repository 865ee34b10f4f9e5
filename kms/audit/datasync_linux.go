package audit

import (
	"os"
	"syscall"
)

// datasync makes f's written data durable: fdatasync(2) for an *os.File
// (fsync would also write its changed mtime: a commit of the filesystem's
// journal, the cost the audit journal is there to avoid), f.Sync otherwise
// (a test's File, whose Sync fails when told to).
func datasync(f File) error {
	osf, ok := f.(*os.File)
	if !ok {
		return f.Sync()
	}
	rc, err := osf.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: osf.Name(), Err: serr}
	}
	return nil
}

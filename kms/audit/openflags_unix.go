//go:build unix

package audit

import (
	"os"
	"syscall"
)

// oNoFollow and oNonBlock are added to the journal's opens: a symbolic
// link at its path is not followed (nothing is written through it, nor
// read), and a FIFO there does not block the open.
const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonBlock = syscall.O_NONBLOCK
)

// private reports whether fi, of an open file, is the server's own and
// readable by it alone: owned by the effective user, no group or other
// permission bit.
func private(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uint32(os.Geteuid()) && fi.Mode().Perm()&0o077 == 0
}

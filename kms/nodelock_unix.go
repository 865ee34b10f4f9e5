//go:build unix

package kms

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockNode takes dataDir's node.lock (flock, exclusive, without waiting):
// one process per node directory. The lock goes with the process.
func lockNode(dataDir string) (release func(), err error) {
	path := filepath.Join(dataDir, nodeLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (another attestkms node uses this data directory)", ErrStoreInUse, dataDir)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

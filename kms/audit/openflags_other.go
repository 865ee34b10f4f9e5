//go:build !unix

package audit

import "os"

const (
	oNoFollow = 0
	oNonBlock = 0
)

func private(fi os.FileInfo) bool { return fi.Mode().Perm()&0o077 == 0 }

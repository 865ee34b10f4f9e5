//go:build !unix

package kms

// lockNode is a no-op where flock is not available: run one process per
// node directory.
func lockNode(string) (func(), error) { return func() {}, nil }

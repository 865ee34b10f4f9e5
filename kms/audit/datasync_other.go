//go:build !linux

package audit

// datasync makes f's written data durable: f.Sync (fdatasync is Linux's).
func datasync(f File) error { return f.Sync() }

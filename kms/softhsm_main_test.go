//go:build pkcs11 && cgo

package kms

import (
	"os"
	"testing"

	"github.com/attestkms/attestkms/internal/softhsmtest"
)

// TestMain removes the throwaway SoftHSM2 token softhsmtest may have made
// (in the temporary directory) once this package's tests have run.
func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

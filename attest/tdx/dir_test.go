package tdx

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestCollateralDirBoundedRead: a collateral file whose size Stat does not
// tell (here a link to /dev/zero, which reads without end) is refused at
// maxCollateralFile bytes, not read whole.
func TestCollateralDirBoundedRead(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	ca := newSimCA(t)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	p := filepath.Join(dir, "root_crl.der")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", p); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCollateralDir(dir, []*x509.Certificate{ca.Root})
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("LoadCollateralDir with root_crl.der -> /dev/zero: %v; want a size refusal", err)
	}
}

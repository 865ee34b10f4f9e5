package tdx

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
)

// hostilePEM is a bundle of good certificates made bad in each way
// pem.Decode alone reads around: it skips a block it cannot read, and any
// text before a block, so that a root would be dropped (or garbage taken)
// unnoticed.
func hostilePEM(good, other []byte, raw []byte) map[string][]byte {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	damaged := bytes.Replace(bytes.Clone(good), []byte("-----BEGIN CERTIFICATE-----\n"), []byte("-----BEGIN CERTIFICATE-----\n!!"), 1)
	return map[string][]byte{
		"empty":                             nil,
		"white space only":                  []byte(" \n"),
		"a damaged block, then good ones":   cat(damaged, good, other),
		"good ones, then a damaged one":     cat(good, other, damaged),
		"a damaged block between":           cat(good, damaged, other),
		"trailing garbage":                  cat(good, other, []byte("garbage\n")),
		"leading garbage":                   cat([]byte("garbage\n"), good, other),
		"garbage between blocks":            cat(good, []byte("garbage\n"), other),
		"a truncated last block":            cat(good, other, good[:len(good)/2]),
		"a non-certificate block first":     cat(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), good, other),
		"a non-certificate block last":      cat(good, other, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1}})),
		"a certificate block with headers":  cat(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"a": "b"}, Bytes: raw}), other),
		"a certificate that does not parse": cat(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}})),
	}
}

// TestParseRoots: a roots bundle (--tdx-roots) is PEM CERTIFICATE blocks
// and white space, nothing else.
func TestParseRoots(t *testing.T) {
	ca := newSimCA(t)
	root := ca.RootsPEM()
	signer := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.TCBSigning.Raw})
	certs, err := ParseRoots(bytes.Join([][]byte{[]byte("\n \t\r\n"), root, []byte("\n"), signer, []byte("\n")}, nil))
	if err != nil || len(certs) != 2 || !certs[0].Equal(ca.Root) || !certs[1].Equal(ca.TCBSigning) {
		t.Fatalf("two certificates with white space around: %d, %v", len(certs), err)
	}
	for name, b := range hostilePEM(root, signer, ca.Root.Raw) {
		t.Run(name, func(t *testing.T) {
			if certs, err := ParseRoots(b); err == nil || certs != nil {
				t.Fatalf("%d certificates, error %v; want an error", len(certs), err)
			}
		})
	}
}

// TestIssuerChains: a collateral item's issuer chain (TCB Info, QE
// Identity, PCK CRL) is read as strictly: a damaged block, garbage or a
// block of another type is ErrMalformed, not read around.
func TestIssuerChains(t *testing.T) {
	ca := newSimCA(t)
	roots := []*x509.Certificate{ca.Root}
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	files := func(tcb, qe, crl []byte) *Files {
		return &Files{
			TCBInfos:   []Signed{{Body: col.TCBInfo, IssuerChain: tcb}},
			QEIdentity: &Signed{Body: col.QEIdentity, IssuerChain: qe},
			PCKCRLs:    []Signed{{Body: col.PCKCRL, IssuerChain: crl}},
			RootCRL:    col.RootCRL,
		}
	}
	if _, err := NewCollateral(files(col.TCBInfoIssuer, col.QEIdentityIssuer, col.PCKCRLIssuer), roots); err != nil {
		t.Fatalf("the simulated collateral: %v", err)
	}
	split := func(chain []byte) (first, rest []byte) {
		blk, rest := pem.Decode(chain)
		return pem.EncodeToMemory(blk), rest
	}
	for _, item := range []string{"tcb info", "qe identity", "pck crl"} {
		var chain []byte
		switch item {
		case "tcb info":
			chain = col.TCBInfoIssuer
		case "qe identity":
			chain = col.QEIdentityIssuer
		case "pck crl":
			chain = col.PCKCRLIssuer
		}
		first, rest := split(chain)
		blk, _ := pem.Decode(first)
		for name, b := range hostilePEM(first, rest, blk.Bytes) {
			t.Run(item+"/"+name, func(t *testing.T) {
				f := files(col.TCBInfoIssuer, col.QEIdentityIssuer, col.PCKCRLIssuer)
				switch item {
				case "tcb info":
					f.TCBInfos[0].IssuerChain = b
				case "qe identity":
					f.QEIdentity.IssuerChain = b
				case "pck crl":
					f.PCKCRLs[0].IssuerChain = b
				}
				c, err := NewCollateral(f, roots)
				if c != nil || !errors.Is(err, attest.ErrMalformed) {
					t.Fatalf("collateral %v, error %v; want ErrMalformed", c != nil, err)
				}
			})
		}
	}
}

// TestNewCollateralNoRoots: an empty, non-nil set of roots verifies
// nothing, whatever the collateral holds (nil means Intel's).
func TestNewCollateralNoRoots(t *testing.T) {
	ca := newSimCA(t)
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	for name, f := range map[string]*Files{
		"root crl only": {RootCRL: col.RootCRL},
		"nothing":       {},
	} {
		if c, err := NewCollateral(f, []*x509.Certificate{}); c != nil || err == nil || !strings.Contains(err.Error(), "no roots") {
			t.Errorf("%s: collateral %v, error %v; want no roots", name, c != nil, err)
		}
	}
}

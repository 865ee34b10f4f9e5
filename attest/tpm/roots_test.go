package tpm_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

func TestParseRoots(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	rsaCA := testCA(t, tpmtest.AKRSA2048)
	cert := string(ca.RootsPEM())
	key := string(ca.AKPublicKeyPEM())
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, b []byte, h map[string]string) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b, Headers: h}))
	}
	for _, tc := range []struct {
		name         string
		in           string
		certs, keys  int
		errSubstring string // "" : parses
	}{
		{"one certificate", cert, 1, 0, ""},
		{"one key", key, 0, 1, ""},
		{"both, blank lines around", "\n\n" + cert + "\r\n\t" + key + "\n\n", 1, 1, ""},
		{"rsa key", string(rsaCA.AKPublicKeyPEM()), 0, 1, ""},
		{"the same key twice", key + key, 0, 1, ""},
		{"google's roots", string(pemCert(readVector(t, "tpm_ek_root_1.cer"))) + string(pemCert(readVector(t, "gcp_ek_ak_ca_root.crt"))), 2, 0, ""},

		{"empty", "", 0, 0, "no certificate and no public key"},
		{"white space", " \n\t", 0, 0, "no certificate and no public key"},
		{"text before", "roots:\n" + cert, 0, 0, "not a PEM block"},
		{"text between", cert + "# next\n" + key, 0, 0, "not a PEM block"},
		{"text after", cert + "end", 0, 0, "not a PEM block"},
		{"private key", block("PRIVATE KEY", []byte{1}, nil), 0, 0, `"PRIVATE KEY"`},
		{"rsa public key", block("RSA PUBLIC KEY", []byte{1}, nil), 0, 0, `"RSA PUBLIC KEY"`},
		{"trusted certificate", block("TRUSTED CERTIFICATE", ca.Root.Raw, nil), 0, 0, `"TRUSTED CERTIFICATE"`},
		{"headers", block("CERTIFICATE", ca.Root.Raw, map[string]string{"Proc-Type": "4,ENCRYPTED"}), 0, 0, "headers"},
		{"bad base64", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n" + cert, 0, 0, "not valid PEM"},
		{"no end line", "-----BEGIN CERTIFICATE-----\nAAAA\n" + cert, 0, 0, "not valid PEM"},
		{"certificate not DER", block("CERTIFICATE", []byte("x"), nil), 0, 0, "block 1"},
		{"key not DER", block("PUBLIC KEY", []byte("x"), nil), 0, 0, "block 1"},
		{"p-521 key", block("PUBLIC KEY", spki(t, &p521.PublicKey), nil), 0, 0, "P-521"},
		{"rsa-1024 key", block("PUBLIC KEY", spki(t, fakeRSA(1024, 65537)), nil), 0, 0, "RSA-1024"},
		{"rsa-8192 key", block("PUBLIC KEY", spki(t, fakeRSA(8192, 65537)), nil), 0, 0, "RSA-8192"},
		{"ed25519 key", block("PUBLIC KEY", []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a}, nil), 0, 0, "want RSA or ECDSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tpm.ParseRoots([]byte(tc.in))
			if tc.errSubstring != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstring) || !strings.HasPrefix(err.Error(), "tpm: roots: ") {
					t.Fatalf("error %v; want one saying %q", err, tc.errSubstring)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Certificates()) != tc.certs || r.NumKeys() != tc.keys {
				t.Fatalf("%d certificates, %d keys; want %d, %d", len(r.Certificates()), r.NumKeys(), tc.certs, tc.keys)
			}
		})
	}
}

// TestPinnedKeys: a pinned key is compared by its canonical DER, whatever
// encoding of it the roots file or the TPMT_PUBLIC gave.
func TestPinnedKeys(t *testing.T) {
	for _, kind := range []tpmtest.AKKind{tpmtest.AKECDSAP256, tpmtest.AKECDSAP384, tpmtest.AKRSA2048, tpmtest.AKRSA2048PSS} {
		ca := testCA(t, kind)
		v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.AKPublicKeyPEM())})
		c, err := v.Verify(evidence(t, ca, tpmtest.Quote{OmitAKCert: true}), testTime)
		checkResult(t, c, err, nil)
		// The pin is the key, not the CA: another AK of the same CA
		// kind is refused.
		other := newCA(t, tpmtest.CAOptions{AK: tpmtest.AKECDSAP256})
		c, err = v.Verify(evidence(t, other, tpmtest.Quote{OmitAKCert: true}), testTime)
		checkResult(t, c, err, attest.ErrChain)
	}
	// A certificate as a root pins nothing: its key is no AK.
	ca := testCA(t, tpmtest.AKECDSAP256)
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, pemCert(ca.AKCert.Raw))})
	c, err := v.Verify(evidence(t, ca, tpmtest.Quote{OmitAKCert: true}), testTime)
	checkResult(t, c, err, attest.ErrChain)
	// But the AK certificate itself as a trust anchor verifies ak_cert.
	c, err = v.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)
}

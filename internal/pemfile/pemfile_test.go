package pemfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newCert(t *testing.T, name string) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCertificates(t *testing.T) {
	a, b := newCert(t, "a"), newCert(t, "b")
	bundle := append(pemOf("CERTIFICATE", a), pemOf("CERTIFICATE", b)...)
	commented := []byte("# roots\nsubject=CN = a\n" + string(pemOf("CERTIFICATE", a)) + "\nsubject=CN = b\n" + string(pemOf("CERTIFICATE", b)) + "\n")
	for name, in := range map[string][]byte{"bundle": bundle, "with comments": commented} {
		certs, err := Certificates(write(t, in))
		if err != nil || len(certs) != 2 || certs[0].Subject.CommonName != "a" || certs[1].Subject.CommonName != "b" {
			t.Errorf("%s: %d certificates, %v", name, len(certs), err)
		}
	}
	// DER, only where asked for.
	der := write(t, a)
	if certs, err := CertificatesOrDER(der); err != nil || len(certs) != 1 || !bytes.Equal(certs[0].Raw, a) {
		t.Errorf("CertificatesOrDER(DER) = %d, %v", len(certs), err)
	}
	if certs, err := CertificatesOrDER(write(t, bundle)); err != nil || len(certs) != 2 {
		t.Errorf("CertificatesOrDER(PEM) = %d, %v", len(certs), err)
	}
	if _, err := Certificates(der); err == nil {
		t.Error("Certificates accepted a DER file")
	}
	// Exactly MaxCertificates is fine.
	var many []byte
	for range MaxCertificates {
		many = append(many, pemOf("CERTIFICATE", a)...)
	}
	if certs, err := Certificates(write(t, many)); err != nil || len(certs) != MaxCertificates {
		t.Errorf("%d certificates: %d, %v", MaxCertificates, len(certs), err)
	}
}

func TestCertificatesRefuses(t *testing.T) {
	a := newCert(t, "a")
	good := pemOf("CERTIFICATE", a)
	var tooMany []byte
	for range MaxCertificates + 1 {
		tooMany = append(tooMany, good...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		says string
	}{
		{"empty", nil, "no PEM certificate"},
		{"text only", []byte("hello\n"), "no PEM certificate"},
		{"a private key", append(bytes.Clone(good), pemOf("PRIVATE KEY", []byte{1, 2, 3})...), `"PRIVATE KEY" PEM block`},
		{"a public key", pemOf("PUBLIC KEY", []byte{1, 2, 3}), `"PUBLIC KEY" PEM block`},
		{"headers", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: a}), "headers"},
		{"a block that does not decode, then a good one", append([]byte("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"), good...), "block 1 is not valid PEM"},
		{"a good block, then one that does not decode", append(bytes.Clone(good), "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"...), "block 2 is not valid PEM"},
		{"unterminated", good[:len(good)-10], "block 1 is not valid PEM"},
		{"not a certificate", pemOf("CERTIFICATE", []byte{0x30, 0x03, 0x02, 0x01, 0x01}), "certificate 1"},
		{"too many", tooMany, "more than 64 certificates"},
		{"too large", append(bytes.Clone(good), bytes.Repeat([]byte("\n"), MaxBundle)...), "more than"},
		{"DER", a, "no PEM certificate"},
	} {
		path := write(t, tc.in)
		certs, err := Certificates(path)
		if err == nil || certs != nil {
			t.Errorf("%s: accepted %d certificates", tc.name, len(certs))
			continue
		}
		if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %q does not say %q and the file", tc.name, err, tc.says)
		}
		if tc.name != "DER" {
			if _, err := CertificatesOrDER(path); err == nil {
				t.Errorf("%s: CertificatesOrDER accepted it", tc.name)
			}
		}
	}
	if _, err := Certificates(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

// TestTrustStore: a system-sized CA bundle is read whole (Certificates
// refuses it); past its bounds it is refused too.
func TestTrustStore(t *testing.T) {
	var system []byte
	for i := range 200 {
		system = append(system, pemOf("CERTIFICATE", newCert(t, fmt.Sprint("root ", i)))...)
	}
	certs, err := TrustStore(write(t, system))
	if err != nil || len(certs) != 200 {
		t.Fatalf("a 200-certificate bundle: %d, %v", len(certs), err)
	}
	if _, err := Certificates(write(t, system)); err == nil {
		t.Fatal("Certificates took 200 certificates")
	}
	one := pemOf("CERTIFICATE", newCert(t, "a"))
	tooMany := bytes.Repeat(one, MaxTrustStoreCertificates+1)
	if _, err := TrustStore(write(t, tooMany)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("%d certificates: %v", MaxTrustStoreCertificates+1, err)
	}
	for name, in := range map[string][]byte{
		"too large": bytes.Repeat([]byte("#"), MaxTrustStore+1),
		"a key":     append(bytes.Clone(one), pemOf("PRIVATE KEY", []byte{1})...),
		"empty":     nil,
	} {
		if _, err := TrustStore(write(t, in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		if certs, err := TrustStore("/etc/ssl/certs/ca-certificates.crt"); err != nil || len(certs) < 10 {
			t.Errorf("this system's CA bundle: %d, %v", len(certs), err)
		}
	}
}

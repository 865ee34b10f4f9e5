package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Interop with OpenSSL's cms command, the reference CMS implementation:
// it must decrypt what WrapCMS makes, and UnwrapCMS must decrypt what it
// makes in AWS's algorithms. Skipped where openssl is not installed.

func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not on PATH")
	}
	return path
}

func openssl(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKeyPEM(t *testing.T, dir string, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// writeCertPEM writes a self-signed certificate for key whose
// subjectKeyIdentifier extension is ski: OpenSSL's -keyid names the
// recipient by that extension.
func writeCertPEM(t *testing.T, dir, name string, key *rsa.PrivateKey, ski []byte) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attestkms recipient test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageKeyEncipherment,
		SubjectKeyId: ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestOpenSSLDecryptsOurs(t *testing.T) {
	bin := needOpenSSL(t)
	for _, key := range []*rsa.PrivateKey{key2048(t), key4096(t)} {
		for _, n := range []int{1, 223, 4096, maxCMSSecret} {
			t.Run(fmt.Sprintf("RSA-%d/%d", key.N.BitLen(), n), func(t *testing.T) {
				dir := t.TempDir()
				secret := secretOf(n)
				in := writeFile(t, dir, "ct.ber", mustWrap(t, &key.PublicKey, secret))
				got := openssl(t, bin, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", in, "-inkey", writeKeyPEM(t, dir, key))
				if !bytes.Equal(got, secret) {
					t.Fatalf("openssl decrypted %d bytes, want %d", len(got), n)
				}
			})
		}
	}
}

func TestOpenSSLEncryptsToUs(t *testing.T) {
	bin := needOpenSSL(t)
	key := key2048(t)
	dir := t.TempDir()
	spkiSKI := sha256.Sum256(spkiOf(t, &key.PublicKey))
	cert := writeCertPEM(t, dir, "cert.pem", key, spkiSKI[:])
	// RFC 5280's method 1, what OpenSSL puts in a certificate by default:
	// SHA-1 of the key's BIT STRING. Not AWS's identifier.
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spkiOf(t, &key.PublicKey), &spki); err != nil {
		t.Fatal(err)
	}
	sha1SKI := sha1.Sum(spki.PublicKey.Bytes)
	sha1Cert := writeCertPEM(t, dir, "sha1cert.pem", key, sha1SKI[:])

	awsAlgs := []string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256", "-aes-256-cbc"}
	for _, tc := range []struct {
		name string
		cert string
		args []string
		n    int
		kind error
		text string
	}{
		{"keyid", cert, append([]string{"-keyid"}, awsAlgs...), 100, nil, ""},
		{"keyid, 1 byte", cert, append([]string{"-keyid"}, awsAlgs...), 1, nil, ""},
		{"keyid, streamed BER", cert, append([]string{"-keyid", "-stream"}, awsAlgs...), 100, nil, ""},
		{"keyid, streamed BER, several chunks", cert, append([]string{"-keyid", "-stream"}, awsAlgs...), 10000, nil, ""},
		{"keyid, several chunks", cert, append([]string{"-keyid"}, awsAlgs...), 10000, nil, ""},
		{"issuerAndSerialNumber", cert, awsAlgs, 100, ErrMalformed, "issuerAndSerialNumber"},
		{"keyid by SHA-1", sha1Cert, append([]string{"-keyid"}, awsAlgs...), 100, ErrWrongKey, ""},
		{"OAEP-SHA-1", cert, []string{"-keyid", "-keyopt", "rsa_padding_mode:oaep", "-aes-256-cbc"}, 100, ErrMalformed, "SHA-1"},
		{"PKCS#1 v1.5", cert, []string{"-keyid", "-aes-256-cbc"}, 100, ErrMalformed, "id-RSAES-OAEP"},
		{"AES-128-CBC", cert, []string{"-keyid", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256", "-aes-128-cbc"}, 100, ErrMalformed, "aes256-CBC"},
		{"OAEP label", cert, append([]string{"-keyid", "-keyopt", "rsa_oaep_label:0011"}, awsAlgs...), 100, ErrMalformed, "pSource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := secretOf(tc.n)
			in := writeFile(t, t.TempDir(), "secret", secret)
			args := append([]string{"cms", "-encrypt", "-binary", "-outform", "DER", "-in", in, "-recip", tc.cert}, tc.args...)
			ct := openssl(t, bin, args...)
			got, err := UnwrapCMS(key, ct)
			if tc.kind == nil {
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("%x, %v; want the secret", got, err)
				}
				return
			}
			if !errors.Is(err, tc.kind) || got != nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("%v, want %v saying %q", err, tc.kind, tc.text)
			}
		})
	}
}

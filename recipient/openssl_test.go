package recipient

import (
	"bytes"
	"crypto/ecdsa"
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
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
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

// opensslSM2PKE reports whether this openssl does SM2 public-key encryption
// (1.1.1 and 3.x do, unless built with no-sm2): pkeyutl -encrypt and
// -decrypt with a key from genpkey -algorithm SM2.
var opensslSM2PKE = sync.OnceValue(func() bool {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		return false
	}
	dir, err := os.MkdirTemp("", "recipient-openssl-sm2")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	key, msg, ct := filepath.Join(dir, "k.pem"), filepath.Join(dir, "m"), filepath.Join(dir, "c")
	if os.WriteFile(msg, []byte("x"), 0o600) != nil {
		return false
	}
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "SM2", "-out", key},
		{"pkeyutl", "-encrypt", "-inkey", key, "-in", msg, "-out", ct},
		{"pkeyutl", "-decrypt", "-inkey", key, "-in", ct},
	} {
		if exec.Command(bin, args...).Run() != nil {
			return false
		}
	}
	return true
})

func needOpenSSLSM2(t *testing.T) string {
	t.Helper()
	bin := needOpenSSL(t)
	if !opensslSM2PKE() {
		t.Skip("this openssl does not do SM2 encryption (openssl pkeyutl -decrypt with an SM2 key fails)")
	}
	return bin
}

func writeSM2KeyPEM(t *testing.T, dir string, key *sm2.PrivateKey) string {
	t.Helper()
	der, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "sm2key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// rsaDecryptOpts are pkeyutl's options for each RSA algorithm.
var rsaDecryptOpts = map[string][]string{
	AlgRSAESOAEPSHA256: {"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"},
	AlgRSAESOAEPSHA1:   {"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1"},
	AlgRSAESPKCS1v15:   {"-pkeyopt", "rsa_padding_mode:pkcs1"},
}

func TestOpenSSLDecryptsWrapTo(t *testing.T) {
	bin := needOpenSSL(t)
	for _, key := range []*rsa.PrivateKey{key2048(t), key4096(t)} {
		for _, alg := range rsaAlgs {
			t.Run(fmt.Sprintf("RSA-%d/%s", key.N.BitLen(), alg), func(t *testing.T) {
				dir := t.TempDir()
				secret := secretOf(maxFor(alg, key.Size()))
				ct, err := WrapTo(&key.PublicKey, alg, secret, nil)
				if err != nil {
					t.Fatal(err)
				}
				args := append([]string{"pkeyutl", "-decrypt", "-inkey", writeKeyPEM(t, dir, key), "-in", writeFile(t, dir, "ct", ct)}, rsaDecryptOpts[alg]...)
				if got := openssl(t, bin, args...); !bytes.Equal(got, secret) {
					t.Fatalf("openssl decrypted %x", got)
				}
			})
		}
	}
	t.Run("SM2", func(t *testing.T) {
		bin := needOpenSSLSM2(t)
		dir := t.TempDir()
		k := sm2Key(t, 0)
		keyPEM := writeSM2KeyPEM(t, dir, k)
		for _, n := range []int{1, 32, 1024} {
			secret := secretOf(n)
			asn, err := WrapTo(&k.PublicKey, AlgSM2ASN1, secret, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := openssl(t, bin, "pkeyutl", "-decrypt", "-inkey", keyPEM, "-in", writeFile(t, dir, "asn", asn)); !bytes.Equal(got, secret) {
				t.Fatalf("openssl decrypted the ASN.1 form to %x", got)
			}
			// The raw form, its parts put in OpenSSL's ASN.1 by hand: C1
			// is the first 64 bytes, C3 the next 32.
			raw, err := WrapTo(&k.PublicKey, AlgSM2, secret, nil)
			if err != nil {
				t.Fatal(err)
			}
			var b cryptobyte.Builder
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1BigInt(new(big.Int).SetBytes(raw[:32]))
				b.AddASN1BigInt(new(big.Int).SetBytes(raw[32:64]))
				b.AddASN1OctetString(raw[64:96])
				b.AddASN1OctetString(raw[96:])
			})
			if got := openssl(t, bin, "pkeyutl", "-decrypt", "-inkey", keyPEM, "-in", writeFile(t, dir, "raw.asn", b.BytesOrPanic())); !bytes.Equal(got, secret) {
				t.Fatalf("openssl decrypted the raw form's parts to %x", got)
			}
		}
	})
}

// OpenSSL's keys parse, and what OpenSSL encrypts to them UnwrapFrom reads.
func TestOpenSSLEncryptsToWrapToKeys(t *testing.T) {
	bin := needOpenSSL(t)
	key := key2048(t)
	dir := t.TempDir()
	keyPEM := writeKeyPEM(t, dir, key)
	pubPEM := openssl(t, bin, "pkey", "-in", keyPEM, "-pubout")
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKey(openssl's RSA PEM): %v", err)
	}
	if !pub.(*rsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatal("openssl's RSA PEM parses to another key")
	}
	pubFile := writeFile(t, dir, "pub.pem", pubPEM)
	secret := secretOf(64)
	in := writeFile(t, dir, "secret", secret)
	for _, alg := range rsaAlgs {
		args := append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile, "-in", in}, rsaDecryptOpts[alg]...)
		ct := openssl(t, bin, args...)
		if got, err := UnwrapFrom(key, alg, ct); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("%s: UnwrapFrom(openssl): %v", alg, err)
		}
	}

	t.Run("SM2", func(t *testing.T) {
		bin := needOpenSSLSM2(t)
		dir := t.TempDir()
		keyFile := filepath.Join(dir, "o.pem")
		openssl(t, bin, "genpkey", "-algorithm", "SM2", "-out", keyFile)
		pubPEM := openssl(t, bin, "pkey", "-in", keyFile, "-pubout")
		pub, err := ParsePublicKey(pubPEM)
		if err != nil {
			t.Fatalf("ParsePublicKey(openssl's SM2 PEM): %v", err)
		}
		der := openssl(t, bin, "pkey", "-in", keyFile, "-pubout", "-outform", "DER")
		if !bytes.Equal(marshalSM2SPKI(pub.(*ecdsa.PublicKey)), der) {
			t.Fatal("openssl's SM2 SubjectPublicKeyInfo is not ours")
		}
		p8 := openssl(t, bin, "pkcs8", "-topk8", "-nocrypt", "-in", keyFile, "-outform", "DER")
		priv, err := smx509.ParsePKCS8PrivateKey(p8)
		if err != nil {
			t.Fatal(err)
		}
		sk := priv.(*sm2.PrivateKey)
		if !sk.PublicKey.Equal(pub) {
			t.Fatal("openssl's SM2 public key is not its private key's")
		}
		// OpenSSL encrypts to the key we parsed; we decrypt its ASN.1.
		ct := openssl(t, bin, "pkeyutl", "-encrypt", "-pubin", "-inkey", writeFile(t, dir, "pub.pem", pubPEM), "-in", writeFile(t, dir, "secret", secret))
		if got, err := UnwrapFrom(sk, AlgSM2ASN1, ct); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("UnwrapFrom(openssl's SM2 ciphertext): %v", err)
		}
		// And OpenSSL decrypts what we wrap to its key.
		asn, err := WrapTo(pub, AlgSM2ASN1, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := openssl(t, bin, "pkeyutl", "-decrypt", "-inkey", keyFile, "-in", writeFile(t, dir, "asn", asn)); !bytes.Equal(got, secret) {
			t.Errorf("openssl decrypted %x", got)
		}
	})
}

package eckeys

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Interoperability with OpenSSL, the other implementation at hand: it must
// read what we write, we must read what it writes, and both must agree on
// the shared secret. Skipped when openssl is not on PATH.

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
}

func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// opensslCurveNames are the names `openssl ... -text` prints after "ASN1 OID:".
var opensslCurveNames = map[Curve]string{P256: "prime256v1", P384: "secp384r1", P521: "secp521r1", Secp256k1: "secp256k1", SM2: "SM2"}

var opensslSM2 = sync.OnceValue(func() bool {
	dir, err := os.MkdirTemp("", "eckeys-openssl-sm2")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	return exec.Command("openssl", "genpkey", "-algorithm", "SM2", "-out", filepath.Join(dir, "k.pem")).Run() == nil
})

// needOpenSSLCurve skips SM2 where openssl has no SM2 (before 1.1.1, or built
// with no-sm2): `openssl genpkey -algorithm SM2` must work.
func needOpenSSLCurve(t *testing.T, c Curve) {
	t.Helper()
	needOpenSSL(t)
	if c == SM2 && !opensslSM2() {
		t.Skip("openssl genpkey -algorithm SM2 fails: no SM2 in this openssl")
	}
}

// opensslGenerate has openssl make a key on c, as PEM.
func opensslGenerate(t *testing.T, c Curve, pem string) {
	t.Helper()
	if c == SM2 {
		openssl(t, "genpkey", "-algorithm", "SM2", "-out", pem)
		return
	}
	openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+opensslCurveNames[c], "-out", pem)
}

// opensslDerive has openssl compute the x-coordinate of k·peer, the key and
// the peer given as our encodings of them.
//
// OpenSSL 3 makes every key on the SM2 curve, named or with explicit
// parameters, an "SM2" key, and that key type does no ECDH (pkeyutl -derive:
// "operation not supported for this keytype"). So for SM2 both keys are
// handed over with explicit parameters whose generator is 2·G instead of G:
// they then match no named curve, stay plain EC keys, and OpenSSL's generic
// EC code multiplies on the same curve equation. The x-coordinate of k·peer
// does not depend on the generator, so the answer is the SM2 one.
func opensslDerive(t *testing.T, dir string, c Curve, k *PrivateKey, peer *PublicKey) []byte {
	t.Helper()
	var p8, spki []byte
	if c == SM2 {
		params := sm2ExplicitParams(t)
		p8 = build(t, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(0)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidPublicKeyEC)
					b.AddBytes(params)
				})
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1OctetString(scalarOf(t, k))
					})
				})
			})
		})
		spki = build(t, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidPublicKeyEC)
					b.AddBytes(params)
				})
				addBitString(b, peer.point)
			})
		})
	} else {
		var err error
		if p8, err = k.MarshalPKCS8(); err != nil {
			t.Fatal(err)
		}
		if spki, err = peer.MarshalSPKI(); err != nil {
			t.Fatal(err)
		}
	}
	return openssl(t, "pkeyutl", "-derive", "-keyform", "DER", "-inkey", writeFile(t, dir, "derive-key.der", p8),
		"-peerform", "DER", "-peerkey", writeFile(t, dir, "derive-peer.der", spki))
}

// sm2ExplicitParams is SM2's ECParameters (SEC 1, C.2) with 2·G as the base
// point; see opensslDerive.
func sm2ExplicitParams(t *testing.T) []byte {
	ref := sm2Ref()
	gx, gy := ref.Double(ref.Gx, ref.Gy)
	a := new(big.Int).Sub(ref.P, big.NewInt(3))
	return build(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier([]int{1, 2, 840, 10045, 1, 1}) // prime-field
				b.AddASN1BigInt(ref.P)
			})
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(a.FillBytes(make([]byte, 32)))
				b.AddASN1OctetString(ref.B.FillBytes(make([]byte, 32)))
			})
			b.AddASN1OctetString(append(append([]byte{4}, gx.FillBytes(make([]byte, 32))...), gy.FillBytes(make([]byte, 32))...))
			b.AddASN1BigInt(ref.N)
			b.AddASN1Int64(1)
		})
	})
}

func build(t *testing.T, f func(*cryptobyte.Builder)) []byte {
	t.Helper()
	var b cryptobyte.Builder
	f(&b)
	der, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// textField returns the hex bytes of a "name:" block of openssl -text output.
func textField(t *testing.T, text, name string) []byte {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:\n((?:\s+[0-9a-f:]+\n)+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s: in openssl output:\n%s", name, text)
	}
	h := strings.NewReplacer(" ", "", ":", "", "\n", "").Replace(m[1])
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenSSLReadsOurs(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			needOpenSSLCurve(t, c)
			dir := t.TempDir()
			k := mustGenerate(t, c)
			p8, _ := k.MarshalPKCS8()
			spki, _ := k.Public().MarshalSPKI()
			kPath := writeFile(t, dir, "k.der", p8)
			pPath := writeFile(t, dir, "p.der", spki)

			text := string(openssl(t, "pkey", "-inform", "DER", "-in", kPath, "-text", "-noout"))
			if !strings.Contains(text, "ASN1 OID: "+opensslCurveNames[c]) {
				t.Errorf("openssl names another curve:\n%s", text)
			}
			// openssl drops leading zero bytes of the scalar: compare numbers.
			if got, want := new(big.Int).SetBytes(textField(t, text, "priv")), new(big.Int).SetBytes(scalarOf(t, k)); got.Cmp(want) != 0 {
				t.Errorf("openssl reads scalar %x, want %x", got, want)
			}
			if got := textField(t, text, "pub"); !bytes.Equal(got, k.Public().point) {
				t.Errorf("openssl reads public key %x from the PKCS #8", got)
			}

			text = string(openssl(t, "pkey", "-pubin", "-inform", "DER", "-in", pPath, "-text", "-noout"))
			if !strings.Contains(text, "ASN1 OID: "+opensslCurveNames[c]) {
				t.Errorf("openssl names another curve:\n%s", text)
			}
			if got := textField(t, text, "pub"); !bytes.Equal(got, k.Public().point) {
				t.Errorf("openssl reads public key %x from the SPKI", got)
			}

			// OpenSSL re-encodes both byte for byte as we wrote them.
			if again := openssl(t, "pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", kPath, "-outform", "DER"); !bytes.Equal(again, p8) {
				t.Errorf("openssl re-encodes our PKCS #8 differently:\n ours    %x\n openssl %x", p8, again)
			}
			if again := openssl(t, "pkey", "-pubin", "-inform", "DER", "-in", pPath, "-outform", "DER"); !bytes.Equal(again, spki) {
				t.Errorf("openssl re-encodes our SPKI differently")
			}
		})
	}
}

func TestOpenSSLKeysAndECDH(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			needOpenSSLCurve(t, c)
			dir := t.TempDir()
			pem := filepath.Join(dir, "o.pem")
			opensslGenerate(t, c, pem)
			oP8 := openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER")
			oSPKI := openssl(t, "pkey", "-in", pem, "-pubout", "-outform", "DER")

			theirs, err := ParsePKCS8(oP8)
			if err != nil {
				t.Fatalf("ParsePKCS8(openssl): %v", err)
			}
			theirPub, err := ParseSPKI(oSPKI)
			if err != nil {
				t.Fatalf("ParseSPKI(openssl): %v", err)
			}
			if !theirPub.Equal(theirs.Public()) {
				t.Fatal("openssl's public key does not match its private key")
			}
			// Same shape: our encoding of their key is their encoding.
			if ours, _ := theirs.MarshalPKCS8(); !bytes.Equal(ours, oP8) {
				t.Errorf("we re-encode openssl's PKCS #8 differently")
			}
			if ours, _ := theirPub.MarshalSPKI(); !bytes.Equal(ours, oSPKI) {
				t.Errorf("we re-encode openssl's SPKI differently")
			}

			// ECDH between our key and theirs, computed by each side.
			ours := mustGenerate(t, c)
			want := opensslDerive(t, dir, c, theirs, ours.Public())
			if got, err := ours.ECDH(theirPub); err != nil || !bytes.Equal(got, want) {
				t.Errorf("our ECDH %x, %v; openssl says %x", got, err, want)
			}
			want = opensslDerive(t, dir, c, ours, theirPub)
			if got, err := ours.ECDH(theirPub); err != nil || !bytes.Equal(got, want) {
				t.Errorf("openssl with our private key says %x, we say %x, %v", want, got, err)
			}
		})
	}
}

// The secp256k1 known answer (Wycheproof tcId 1) holds for OpenSSL too, which
// ties the expected value to an implementation other than the two in Go.
func TestOpenSSLSecp256k1KnownAnswer(t *testing.T) {
	needOpenSSL(t)
	v := wycheproofVectors[0]
	if v.curve != Secp256k1 || v.tcID != 1 {
		t.Fatal("wycheproofVectors[0] is no longer secp256k1 tcId 1")
	}
	dir := t.TempDir()
	k := keyFromScalar(t, Secp256k1, mustHex(t, v.private))
	p8, _ := k.MarshalPKCS8()
	got := openssl(t, "pkeyutl", "-derive", "-keyform", "DER", "-inkey", writeFile(t, dir, "k.der", p8),
		"-peerform", "DER", "-peerkey", writeFile(t, dir, "peer.der", mustHex(t, v.public)))
	if want := mustHex(t, v.shared); !bytes.Equal(got, want) {
		t.Errorf("openssl derives %x, the vector says %x", got, want)
	}
}

// The pinned SM2 answer holds for OpenSSL too.
func TestOpenSSLSM2KnownAnswer(t *testing.T) {
	needOpenSSLCurve(t, SM2)
	k := keyFromScalar(t, SM2, mustHex(t, sm2Known.d))
	peer := keyFromScalar(t, SM2, sm2PeerScalar[:])
	got := opensslDerive(t, t.TempDir(), SM2, k, peer.Public())
	if want := mustHex(t, sm2KnownZ); !bytes.Equal(got, want) {
		t.Errorf("openssl derives %x, pinned %x", got, want)
	}
}

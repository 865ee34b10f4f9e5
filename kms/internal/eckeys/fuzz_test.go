package eckeys

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSPKI: no panic; a refusal is ErrInvalidKey with no key; an
// acceptance is canonical, i.e. MarshalSPKI gives back exactly the input, so
// no two encodings of one key both get through.
func FuzzParseSPKI(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		pub, err := ParseSPKI(in)
		if err != nil {
			if pub != nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("refusal with a key or of no kind: %v, %v", pub, err)
			}
			return
		}
		out, err := pub.MarshalSPKI()
		if err != nil {
			t.Fatalf("accepted key does not marshal: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", in, out)
		}
		if len(pub.point) != 1+2*pub.Curve().SecretSize() || pub.point[0] != 4 {
			t.Fatalf("accepted point %x", pub.point)
		}
	})
}

// FuzzParsePKCS8: no panic; a refusal is ErrInvalidPrivateKey with no key.
// Exact re-encoding cannot hold here for a legitimate reason: RFC 5915's
// ECPrivateKey has two optional fields (parameters [0], publicKey [1]) that
// producers differ on, and ParsePKCS8 accepts both spellings of each. So the
// property is the closest one that does hold: the input is one of exactly
// four encodings of the parsed key (canonical, +parameters, -publicKey, both),
// and parse(marshal(parse(x))) is the same key with the same encoding.
//
// An accepted input costs two scalar multiplications, so minimizing a new
// interesting one can stall the fuzzer for the default minute; run it as
//
//	go test -run='^$' -fuzz=FuzzParsePKCS8 -fuzztime=60s -fuzzminimizetime=2s ./kms/internal/eckeys
func FuzzParsePKCS8(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := ParsePKCS8(in)
		if err != nil {
			if k != nil || !errors.Is(err, ErrInvalidPrivateKey) {
				t.Fatalf("refusal with a key or of no kind: %v", err)
			}
			return
		}
		found := false
		for _, v := range pkcs8Variants(t, k) {
			found = found || bytes.Equal(v, in)
		}
		if !found {
			t.Fatalf("accepted an encoding outside the four allowed: %x", in)
		}
		canonical, err := k.MarshalPKCS8()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePKCS8(canonical)
		if err != nil {
			t.Fatalf("canonical encoding refused: %v", err)
		}
		if !k2.Equal(k) || !k2.Public().Equal(k.Public()) {
			t.Fatal("parse(marshal(parse(x))) is another key")
		}
		if again, _ := k2.MarshalPKCS8(); !bytes.Equal(again, canonical) {
			t.Fatal("marshal is not stable")
		}
	})
}

// TestFuzzCorpus checks that the committed seed corpora still hold a valid
// encoding for every curve, so that fuzzing starts from keys and not only
// from noise.
func TestFuzzCorpus(t *testing.T) {
	for _, target := range []string{"FuzzParseSPKI", "FuzzParsePKCS8"} {
		seen := map[Curve]bool{}
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no seed corpus: %v", target, err)
		}
		for _, file := range files {
			in := readSeed(t, file)
			if target == "FuzzParseSPKI" {
				if p, err := ParseSPKI(in); err == nil {
					seen[p.Curve()] = true
				}
			} else if k, err := ParsePKCS8(in); err == nil {
				seen[k.Curve()] = true
			}
		}
		for _, c := range allCurves {
			if !seen[c] {
				t.Errorf("%s: no valid %s seed", target, c)
			}
		}
	}
}

func readSeed(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a go test fuzz v1 []byte seed", file)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return []byte(s)
}

// TestWriteFuzzSeeds regenerates the seed corpora from the known-answer keys
// (so the bytes are the same on every run, except the keys OpenSSL makes).
// Run with ECKEYS_WRITE_FUZZ_SEEDS=1; crashers found by fuzzing are added to
// testdata/fuzz by `go test -fuzz` itself and are kept.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ECKEYS_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("ECKEYS_WRITE_FUZZ_SEEDS not set")
	}
	spki := map[string][]byte{}
	p8 := map[string][]byte{}
	keys := map[Curve]*PrivateKey{}
	for _, v := range cavsVectors {
		if v.count == 0 {
			keys[v.curve] = keyFromScalar(t, v.curve, mustHex(t, v.dIUT))
		}
	}
	keys[Secp256k1] = keyFromScalar(t, Secp256k1, mustHex(t, wycheproofVectors[0].private))
	keys[SM2] = keyFromScalar(t, SM2, mustHex(t, sm2Known.d))
	for _, c := range allCurves {
		k := keys[c]
		der, _ := k.Public().MarshalSPKI()
		spki["valid-"+string(c)] = der
		spki["compressed-"+string(c)] = pointSPKI(t, c, compressed(t, c, k.Public().point))
		spki["identity-"+string(c)] = pointSPKI(t, c, []byte{0})
		notOnCurve := append([]byte(nil), k.Public().point...)
		notOnCurve[len(notOnCurve)-1] ^= 1
		spki["not-on-curve-"+string(c)] = pointSPKI(t, c, notOnCurve)
		spki["ber-length-"+string(c)] = append([]byte{0x30, 0x81}, der[1:]...)

		for i, v := range pkcs8Variants(t, k) {
			p8[fmt.Sprintf("valid-%s-variant%d", c, i)] = v
		}
		good := basicP8(t, k)
		bad := good
		bad.scalar = make([]byte, c.SecretSize())
		bad.point = nil
		p8["zero-scalar-"+string(c)] = bad.der(t)
		bad = good
		bad.version = 1
		p8["version1-"+string(c)] = bad.der(t)
	}
	for _, v := range wycheproofVectors {
		spki[fmt.Sprintf("wycheproof-%s-tc%d", v.curve, v.tcID)] = mustHex(t, v.public)
	}
	// The confusions of TestSM2Confusions: same sizes, other curve or spelling.
	spki["p256-point-as-SM2"] = pointSPKI(t, SM2, keys[P256].Public().point)
	spki["SM2-point-as-P-256"] = pointSPKI(t, P256, keys[SM2].Public().point)
	spki["SM2-oid-as-algorithm"] = spkiWith(t, oidSM2, oidDER(t, oidSM2), append([]byte{0}, keys[SM2].Public().point...))
	nMinus1 := basicP8(t, keys[SM2])
	nMinus1.scalar = new(big.Int).Sub(groupOrder(SM2), big.NewInt(1)).FillBytes(make([]byte, 32))
	nMinus1.point = nil
	p8["scalar-n-1-SM2"] = nMinus1.der(t)
	if _, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		pem := filepath.Join(dir, "o.pem")
		openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", pem)
		p8["openssl-secp256k1"] = openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER")
		spki["openssl-secp256k1"] = openssl(t, "pkey", "-in", pem, "-pubout", "-outform", "DER")
		if opensslSM2() {
			opensslGenerate(t, SM2, pem)
			p8["openssl-SM2"] = openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER")
			spki["openssl-SM2"] = openssl(t, "pkey", "-in", pem, "-pubout", "-outform", "DER")
		}
	}
	writeSeeds(t, "FuzzParseSPKI", spki)
	writeSeeds(t, "FuzzParsePKCS8", p8)
}

func writeSeeds(t *testing.T, target string, seeds map[string][]byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, in := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.QuoteToASCII(string(in)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

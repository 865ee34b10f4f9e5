package hmacsha256

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC4231 checks HMAC-SHA256 against RFC 4231's test cases 1-4, 6 and 7
// (5 truncates its output).
func TestRFC4231(t *testing.T) {
	for i, tc := range []struct{ key, data, mac string }{
		{strings.Repeat("0b", 20), hex.EncodeToString([]byte("Hi There")),
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{hex.EncodeToString([]byte("Jefe")), hex.EncodeToString([]byte("what do ya want for nothing?")),
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{strings.Repeat("aa", 20), strings.Repeat("dd", 50),
			"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
		{"0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50),
			"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{strings.Repeat("aa", 131), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")),
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{strings.Repeat("aa", 131), hex.EncodeToString([]byte("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")),
			"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
	} {
		got := Sum(unhex(t, tc.key), unhex(t, tc.data))
		if hex.EncodeToString(got[:]) != tc.mac {
			t.Errorf("case %d: %x, want %s", i, got, tc.mac)
		}
	}
}

// TestRFC5869 checks HKDF-SHA256 against RFC 5869's test cases 1-3.
func TestRFC5869(t *testing.T) {
	for i, tc := range []struct{ ikm, salt, info, okm string }{
		{strings.Repeat("0b", 22), "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
			"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
			"b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
		{strings.Repeat("0b", 22), "", "",
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	} {
		want := unhex(t, tc.okm)
		got := make([]byte, len(want))
		HKDF(got, unhex(t, tc.ikm), unhex(t, tc.salt), unhex(t, tc.info))
		if !bytes.Equal(got, want) {
			t.Errorf("case %d: %x, want %x", i+1, got, want)
		}
	}
}

// FuzzSameAsStandardLibrary: Sum is crypto/hmac's HMAC-SHA256 and HKDF is
// crypto/hkdf's, for any key, message, salt, info and length.
func FuzzSameAsStandardLibrary(f *testing.F) {
	f.Add([]byte("key"), []byte("message"), []byte("salt"), []byte("info"), uint16(32))
	f.Add(bytes.Repeat([]byte{1}, 65), bytes.Repeat([]byte{2}, 513), []byte{}, bytes.Repeat([]byte{3}, 478), uint16(8160))
	f.Add([]byte{}, bytes.Repeat([]byte{2}, 512), bytes.Repeat([]byte{4}, 64), []byte{}, uint16(33))
	f.Fuzz(func(t *testing.T, key, msg, salt, info []byte, n uint16) {
		h := hmac.New(sha256.New, key)
		h.Write(msg)
		if got := Sum(key, msg); !bytes.Equal(got[:], h.Sum(nil)) {
			t.Fatalf("Sum(%x, %x) = %x, crypto/hmac says %x", key, msg, got, h.Sum(nil))
		}
		length := int(n)%(255*Size) + 1
		if len(info) > maxInline-Size-1 {
			info = info[:maxInline-Size-1]
		}
		want, err := hkdf.Key(sha256.New, key, salt, string(info), length)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, length)
		HKDF(got, key, salt, info)
		if !bytes.Equal(got, want) {
			t.Fatalf("HKDF(%x, %x, %x, %d) = %x, crypto/hkdf says %x", key, salt, info, length, got, want)
		}
	})
}

func TestHKDFRefusesLongInfo(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("an info longer than the buffer did not panic")
		}
	}()
	HKDF(make([]byte, 32), nil, nil, make([]byte, maxInline-Size))
}

func TestNoAllocations(t *testing.T) {
	key, msg, out := make([]byte, 32), make([]byte, 200), make([]byte, 32)
	if n := testing.AllocsPerRun(100, func() { Sum(key, msg); HKDF(out, key, msg[:24], msg[:17]) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// BenchmarkBlobKey is a ciphertext blob's key (kms.blobAEAD) both ways.
func BenchmarkBlobKey(b *testing.B) {
	material, salt, info := make([]byte, 32), make([]byte, 24), "attestkms blob v1"
	b.Run("crypto/hkdf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hkdf.Key(sha256.New, material, salt, info, 32)
		}
	})
	b.Run("hmacsha256", func(b *testing.B) {
		b.ReportAllocs()
		out := make([]byte, 32)
		for b.Loop() {
			HKDF(out, material, salt, []byte(info))
		}
	})
}

// BenchmarkSigV4Signature is the one HMAC of a request signed with a cached
// key, over a 150-byte string to sign, both ways.
func BenchmarkSigV4Signature(b *testing.B) {
	key, sts := make([]byte, 32), make([]byte, 150)
	b.Run("crypto/hmac", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := hmac.New(sha256.New, key)
			h.Write(sts)
			h.Sum(nil)
		}
	})
	b.Run("hmacsha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sum(key, sts)
		}
	})
}

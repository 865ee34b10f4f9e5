package nitro_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/fxamacker/cbor/v2"
)

// setField replaces a payload field's value (or adds the field).
func setField(key string, value any) func([]nitrotest.Field) []nitrotest.Field {
	return func(fs []nitrotest.Field) []nitrotest.Field {
		for i := range fs {
			if fs[i].Key == key {
				fs[i].Value = value
				return fs
			}
		}
		return append(fs, nitrotest.Field{Key: key, Value: value})
	}
}

func dropField(key string) func([]nitrotest.Field) []nitrotest.Field {
	return func(fs []nitrotest.Field) []nitrotest.Field {
		out := fs[:0]
		for _, f := range fs {
			if f.Key != key {
				out = append(out, f)
			}
		}
		return out
	}
}

func nested(depth int) cbor.RawMessage {
	return append(bytes.Repeat([]byte{0x81}, depth), 0x00)
}

// indefinite encodes items in an indefinite-length array (0x9f) or map
// (0xbf, items alternating keys and values).
func indefinite(start byte, items ...any) cbor.RawMessage {
	b := []byte{start}
	for _, it := range items {
		e, err := cbor.Marshal(it)
		if err != nil {
			panic(err)
		}
		b = append(b, e...)
	}
	return append(b, 0xff)
}

func pcrMap(n, size int) map[int][]byte {
	m := make(map[int][]byte, n)
	for i := range n {
		m[i] = bytes.Repeat([]byte{byte(i + 1)}, size)
	}
	return m
}

// TestHostileDocuments signs one broken document per check and asserts the
// kind of its refusal.
func TestHostileDocuments(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	k := testKeys()
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	trailingKey := append(rsaSPKI(t), 0)

	for _, tc := range []struct {
		name string
		edit func(*nitrotest.Document)
		at   time.Time // zero: testVerifyTime
		want error     // nil: verifies
	}{
		{"genuine", func(d *nitrotest.Document) {}, time.Time{}, nil},
		{"tagged", func(d *nitrotest.Document) { d.Tagged = true }, time.Time{}, nil},
		{"definite length", func(d *nitrotest.Document) { d.DefiniteLength = true }, time.Time{}, nil},
		{"null user data and nonce", func(d *nitrotest.Document) { d.UserData, d.Nonce = nil, nil }, time.Time{}, nil},
		{"no user data and nonce fields", func(d *nitrotest.Document) {
			d.Edit = func(fs []nitrotest.Field) []nitrotest.Field { return dropField("nonce")(dropField("user_data")(fs)) }
		}, time.Time{}, nil},
		{"indefinite-length pcrs and cabundle", func(d *nitrotest.Document) {
			d.Edit = func(fs []nitrotest.Field) []nitrotest.Field {
				for i, f := range fs {
					switch f.Key {
					case "pcrs":
						fs[i].Value = indefinite(0xbf, 0, f.Value.(map[int][]byte)[0], 1, f.Value.(map[int][]byte)[1])
					case "cabundle":
						var certs []any
						for _, c := range f.Value.([][]byte) {
							certs = append(certs, c)
						}
						fs[i].Value = indefinite(0x9f, certs...)
					}
				}
				return fs
			}
		}, time.Time{}, nil},
		{"rsa-3072 key", func(d *nitrotest.Document) { d.PublicKey = spki(t, fakeRSA(3072, 65537)) }, time.Time{}, nil},
		{"rsa-4096 key", func(d *nitrotest.Document) { d.PublicKey = spki(t, fakeRSA(4096, 65537)) }, time.Time{}, nil},
		{"32 pcrs", func(d *nitrotest.Document) { d.PCRs = pcrMap(32, 48) }, time.Time{}, nil},
		{"cabundle root is a stranger's (never read)", func(d *nitrotest.Document) { d.ForeignRoot = true }, time.Time{}, nil},
		{"1024-byte user data", func(d *nitrotest.Document) { d.UserData = make([]byte, 1024) }, time.Time{}, nil},
		{"just fresh", func(d *nitrotest.Document) {}, testDocTime.Add(5 * time.Minute), nil},
		{"just not future", func(d *nitrotest.Document) { d.Timestamp = testDocTime.Add(time.Minute) }, testDocTime, nil},

		{"tampered signature", func(d *nitrotest.Document) { d.FlipSignature = true }, time.Time{}, attest.ErrSignature},
		{"tampered payload", func(d *nitrotest.Document) { d.TamperPayload = true }, time.Time{}, attest.ErrSignature},
		{"signed by another key", func(d *nitrotest.Document) { d.SignWithOtherKey = true }, time.Time{}, attest.ErrSignature},

		{"untrusted ca, root taken from cabundle only", func(d *nitrotest.Document) { d.ForeignCA = true }, time.Time{}, attest.ErrChain},
		{"leaf signed by an impostor", func(d *nitrotest.Document) { d.LeafImpostor = true }, time.Time{}, attest.ErrChain},
		{"no intermediate", func(d *nitrotest.Document) { d.OmitIntermediate = true }, time.Time{}, attest.ErrChain},
		{"certificate not DER", func(d *nitrotest.Document) { d.Edit = setField("certificate", []byte("not a certificate")) }, time.Time{}, attest.ErrChain},

		{"expired leaf", func(d *nitrotest.Document) { d.ExpiredLeaf = true }, time.Time{}, attest.ErrExpired},
		{"stale timestamp", func(d *nitrotest.Document) {}, testDocTime.Add(5*time.Minute + time.Millisecond), attest.ErrExpired},
		{"future timestamp", func(d *nitrotest.Document) { d.Timestamp = testDocTime.Add(time.Minute + time.Millisecond) }, testDocTime, attest.ErrExpired},
		{"leaf not yet valid", func(d *nitrotest.Document) {}, testDocTime.Add(-time.Hour), attest.ErrExpired},

		{"rsa-1024 key", func(d *nitrotest.Document) { d.PublicKey = spki(t, &k.rsa1024.PublicKey) }, time.Time{}, attest.ErrKey},
		{"rsa-8192 key", func(d *nitrotest.Document) { d.PublicKey = spki(t, fakeRSA(8192, 65537)) }, time.Time{}, attest.ErrKey},
		{"rsa-4608 key", func(d *nitrotest.Document) { d.PublicKey = spki(t, fakeRSA(4608, 65537)) }, time.Time{}, attest.ErrKey},
		{"rsa exponent 1", func(d *nitrotest.Document) { d.PublicKey = spki(t, fakeRSA(2048, 1)) }, time.Time{}, attest.ErrKey},
		{"rsa exponent even", func(d *nitrotest.Document) { d.PublicKey = spki(t, fakeRSA(2048, 65536)) }, time.Time{}, attest.ErrKey},
		{"ec p-384 key", func(d *nitrotest.Document) { d.PublicKey = p384SPKI(t) }, time.Time{}, attest.ErrKey},
		{"x25519 key", func(d *nitrotest.Document) { d.PublicKey = spki(t, x25519.PublicKey()) }, time.Time{}, attest.ErrKey},
		{"missing key (null)", func(d *nitrotest.Document) { d.PublicKey = nil }, time.Time{}, attest.ErrKey},
		{"missing key (absent)", func(d *nitrotest.Document) { d.Edit = dropField("public_key") }, time.Time{}, attest.ErrKey},
		{"empty key", func(d *nitrotest.Document) { d.PublicKey = []byte{} }, time.Time{}, attest.ErrKey},
		{"garbage key", func(d *nitrotest.Document) { d.PublicKey = bytes.Repeat([]byte{1}, 1024) }, time.Time{}, attest.ErrKey},
		{"key with trailing bytes", func(d *nitrotest.Document) { d.PublicKey = trailingKey }, time.Time{}, attest.ErrKey},

		{"wrong digest", func(d *nitrotest.Document) { d.Digest = "SHA1" }, time.Time{}, attest.ErrMalformed},
		{"sha256 digest on nitro", func(d *nitrotest.Document) { d.Digest, d.PCRs = "SHA256", pcrMap(16, 32) }, time.Time{}, attest.ErrMalformed},
		{"es256 header on nitro", func(d *nitrotest.Document) { d.HeaderAlg = -7 }, time.Time{}, attest.ErrMalformed},
		{"es512 header on nitro", func(d *nitrotest.Document) { d.HeaderAlg = -36 }, time.Time{}, attest.ErrMalformed},
		{"extra protected header", func(d *nitrotest.Document) { d.ExtraHeader = true }, time.Time{}, attest.ErrMalformed},
		{"unprotected header", func(d *nitrotest.Document) { d.UnprotectedKID = true }, time.Time{}, attest.ErrMalformed},
		{"duplicate map key", func(d *nitrotest.Document) { d.DuplicateKey = "user_data" }, time.Time{}, attest.ErrMalformed},
		{"unknown field", func(d *nitrotest.Document) { d.UnknownField = true }, time.Time{}, attest.ErrMalformed},
		{"upper-case key", func(d *nitrotest.Document) { d.Edit = setField("MODULE_ID", "x") }, time.Time{}, attest.ErrMalformed},
		{"integer key", func(d *nitrotest.Document) {
			d.Edit = func(fs []nitrotest.Field) []nitrotest.Field { return append(fs, nitrotest.Field{Key: 1, Value: 2}) }
		}, time.Time{}, attest.ErrMalformed},
		{"pubkey on nitro", func(d *nitrotest.Document) { d.KeyName = "pubkey" }, time.Time{}, attest.ErrMalformed},
		{"trailing bytes in payload", func(d *nitrotest.Document) { d.TrailingBytes = true }, time.Time{}, attest.ErrMalformed},
		{"33 pcrs", func(d *nitrotest.Document) { d.PCRs = pcrMap(33, 48) }, time.Time{}, attest.ErrMalformed},
		{"pcr index 32", func(d *nitrotest.Document) { d.PCRs = map[int][]byte{0: make([]byte, 48), 32: make([]byte, 48)} }, time.Time{}, attest.ErrMalformed},
		{"pcr index negative", func(d *nitrotest.Document) { d.PCRs = map[int][]byte{-1: make([]byte, 48)} }, time.Time{}, attest.ErrMalformed},
		{"pcr of 32 bytes", func(d *nitrotest.Document) { d.PCRs = pcrMap(16, 32) }, time.Time{}, attest.ErrMalformed},
		{"no pcrs", func(d *nitrotest.Document) { d.PCRs = map[int][]byte{} }, time.Time{}, attest.ErrMalformed},
		{"9 certificates", func(d *nitrotest.Document) { d.PadCABundle = 7 }, time.Time{}, attest.ErrMalformed},
		{"empty cabundle", func(d *nitrotest.Document) { d.Edit = setField("cabundle", [][]byte{}) }, time.Time{}, attest.ErrMalformed},
		{"empty certificate in cabundle", func(d *nitrotest.Document) { d.Edit = setField("cabundle", [][]byte{{}}) }, time.Time{}, attest.ErrMalformed},
		{"oversized user data", func(d *nitrotest.Document) { d.UserData = make([]byte, 1025) }, time.Time{}, attest.ErrMalformed},
		{"oversized nonce", func(d *nitrotest.Document) { d.Nonce = make([]byte, 1025) }, time.Time{}, attest.ErrMalformed},
		{"oversized public key", func(d *nitrotest.Document) { d.PublicKey = append(rsaSPKI(t), make([]byte, 1025)...) }, time.Time{}, attest.ErrKey},
		{"oversized certificate", func(d *nitrotest.Document) { d.Edit = setField("certificate", make([]byte, 2049)) }, time.Time{}, attest.ErrMalformed},
		{"oversized module id", func(d *nitrotest.Document) { d.ModuleID = strings.Repeat("i", 129) }, time.Time{}, attest.ErrMalformed},
		{"empty module id", func(d *nitrotest.Document) { d.Edit = setField("module_id", "") }, time.Time{}, attest.ErrMalformed},
		{"missing certificate", func(d *nitrotest.Document) { d.Edit = dropField("certificate") }, time.Time{}, attest.ErrMalformed},
		{"missing timestamp", func(d *nitrotest.Document) { d.Edit = dropField("timestamp") }, time.Time{}, attest.ErrMalformed},
		{"timestamp as text", func(d *nitrotest.Document) { d.Edit = setField("timestamp", "1767225600000") }, time.Time{}, attest.ErrMalformed},
		{"timestamp negative", func(d *nitrotest.Document) { d.Edit = setField("timestamp", -1) }, time.Time{}, attest.ErrMalformed},
		{"timestamp zero", func(d *nitrotest.Document) { d.Edit = setField("timestamp", 0) }, time.Time{}, attest.ErrMalformed},
		{"timestamp float", func(d *nitrotest.Document) { d.Edit = setField("timestamp", 1767225600000.0) }, time.Time{}, attest.ErrMalformed},
		{"timestamp tagged", func(d *nitrotest.Document) {
			d.Edit = setField("timestamp", cbor.RawMessage{0xc1, 0x1b, 0, 0, 1, 0x9b, 0x76, 0x68, 0x98, 0})
		}, time.Time{}, attest.ErrMalformed},
		{"certificate as array", func(d *nitrotest.Document) { d.Edit = setField("certificate", []int{0x30, 0x82}) }, time.Time{}, attest.ErrMalformed},
		{"certificate as indefinite-length bytes", func(d *nitrotest.Document) {
			d.Edit = setField("certificate", cbor.RawMessage{0x5f, 0x41, 0x30, 0xff})
		}, time.Time{}, attest.ErrMalformed},
		{"module id as bytes", func(d *nitrotest.Document) { d.Edit = setField("module_id", []byte("i-0")) }, time.Time{}, attest.ErrMalformed},
		{"module id not utf-8", func(d *nitrotest.Document) { d.Edit = setField("module_id", cbor.RawMessage{0x62, 0xff, 0xfe}) }, time.Time{}, attest.ErrMalformed},
		{"user data as text", func(d *nitrotest.Document) { d.Edit = setField("user_data", "text") }, time.Time{}, attest.ErrMalformed},
		{"user data undefined", func(d *nitrotest.Document) { d.Edit = setField("user_data", cbor.RawMessage{0xf7}) }, time.Time{}, attest.ErrMalformed},
		{"pcrs as array", func(d *nitrotest.Document) { d.Edit = setField("pcrs", [][]byte{make([]byte, 48)}) }, time.Time{}, attest.ErrMalformed},
		{"pcr key as text", func(d *nitrotest.Document) { d.Edit = setField("pcrs", map[string][]byte{"0": make([]byte, 48)}) }, time.Time{}, attest.ErrMalformed},
		{"cabundle as map", func(d *nitrotest.Document) { d.Edit = setField("cabundle", map[int][]byte{0: {1}}) }, time.Time{}, attest.ErrMalformed},
		{"nesting deeper than the schema", func(d *nitrotest.Document) { d.Edit = setField("user_data", nested(3)) }, time.Time{}, attest.ErrMalformed},
		{"payload nested 10,000 deep", func(d *nitrotest.Document) { d.Edit = setField("nonce", nested(10000)) }, time.Time{}, attest.ErrMalformed},
		{"empty payload map", func(d *nitrotest.Document) {
			d.Edit = func([]nitrotest.Field) []nitrotest.Field { return nil }
		}, time.Time{}, attest.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := genuine(t)
			tc.edit(&d)
			doc := sign(t, ca, d)
			at := tc.at
			if at.IsZero() {
				at = testVerifyTime
			}
			c, err := v.Verify(doc, at)
			checkResult(t, c, err, tc.want)
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// TestHostileBytes feeds the verifier things that are not documents at all.
func TestHostileBytes(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	good := sign(t, ca, genuine(t))
	deep := append([]byte{0x84}, nested(10000)...)
	for name, doc := range map[string][]byte{
		"nil":                  nil,
		"empty":                {},
		"garbage":              []byte("garbage, not CBOR at all"),
		"json":                 []byte(`{"module_id":"x"}`),
		"1 MiB":                append(bytes.Clone(good), make([]byte, 1<<20)...),
		"one byte over 16 KiB": make([]byte, attest.MaxEvidence+1),
		"nested 10,000 deep":   deep,
		"tagged nested":        append([]byte{0xd2}, deep...),
		"other tag":            append([]byte{0xd8, 0x3d}, good...),
		"array of 3":           append([]byte{0x83}, good[1:]...),
		"trailing byte":        append(bytes.Clone(good), 0),
		"truncated":            good[:len(good)-1],
		"lone 0x84":            {0x84},
		"lone 0xd2":            {0xd2},
		"detached payload":     {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0xf6, 0x58, 0x60},
		"indefinite array":     append([]byte{0x9f}, append(bytes.Clone(good[1:]), 0xff)...),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := v.Verify(doc, testVerifyTime)
			checkResult(t, c, err, attest.ErrMalformed)
			if len(err.Error()) > 300 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

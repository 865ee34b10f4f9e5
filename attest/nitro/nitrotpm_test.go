package nitro_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// genuineTPM is a good NitroTPM document for tests to break.
func genuineTPM(t testing.TB) nitrotest.Document {
	return nitrotest.Document{NitroTPM: true, Timestamp: testDocTime, PublicKey: rsaSPKI(t)}
}

func tpmPCRsWith(edit func(map[int][]byte)) map[int][]byte {
	m := nitrotest.NitroTPMPCRs()
	edit(m)
	return m
}

// TestNitroTPMHostile signs one NitroTPM document per check, and asserts
// the refusal's kind and that its message names what failed, through a
// Nitro verifier (which admits NitroTPM documents too) and a NitroTPM-only
// one.
func TestNitroTPMHostile(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	verifiers := map[string]*nitro.Verifier{
		"nitro":    newVerifier(t, nitro.Options{Roots: ca.Roots()}),
		"nitrotpm": newVerifier(t, nitro.Options{Format: attest.FormatNitroTPM, Roots: ca.Roots()}),
	}
	for _, tc := range []struct {
		name string
		edit func(*nitrotest.Document)
		want error  // nil: verifies
		says string // the error says this
	}{
		{"genuine", func(d *nitrotest.Document) {}, nil, ""},
		{"definite length", func(d *nitrotest.Document) { d.DefiniteLength = true }, nil, ""},
		{"user data and nonce", func(d *nitrotest.Document) { d.UserData, d.Nonce = []byte("u"), []byte("n") }, nil, ""},
		{"no user data and nonce fields", func(d *nitrotest.Document) {
			d.Edit = func(fs []nitrotest.Field) []nitrotest.Field { return dropField("nonce")(dropField("user_data")(fs)) }
		}, nil, ""},

		{"pcrs and nitrotpm_pcrs", func(d *nitrotest.Document) { d.Edit = setField("pcrs", pcrMap(16, 48)) }, attest.ErrMalformed, `both "pcrs" and "nitrotpm_pcrs"`},
		{"register index 24", func(d *nitrotest.Document) { d.PCRs = tpmPCRsWith(func(m map[int][]byte) { m[24] = m[0] }) }, attest.ErrMalformed, "index 24"},
		{"register index 1000", func(d *nitrotest.Document) {
			d.PCRs = tpmPCRsWith(func(m map[int][]byte) { delete(m, 0); m[1000] = m[1] })
		}, attest.ErrMalformed, "index 1000"},
		{"47-byte register", func(d *nitrotest.Document) { d.PCRs = tpmPCRsWith(func(m map[int][]byte) { m[4] = m[4][:47] }) }, attest.ErrMalformed, "nitrotpm_pcrs[4] is 47 bytes"},
		{"49-byte register", func(d *nitrotest.Document) {
			d.PCRs = tpmPCRsWith(func(m map[int][]byte) { m[7] = append(bytes.Clone(m[7]), 0) })
		}, attest.ErrMalformed, "nitrotpm_pcrs[7]"},
		{"register 23 missing", func(d *nitrotest.Document) { d.PCRs = tpmPCRsWith(func(m map[int][]byte) { delete(m, 23) }) }, attest.ErrMalformed, "register 23 is missing"},
		{"no registers", func(d *nitrotest.Document) { d.PCRs = map[int][]byte{} }, attest.ErrMalformed, "register 0 is missing"},
		{"registers not a map", func(d *nitrotest.Document) { d.Edit = setField("nitrotpm_pcrs", []byte{1}) }, attest.ErrMalformed, "nitrotpm_pcrs is not a map"},
		{"register a text string", func(d *nitrotest.Document) {
			d.Edit = setField("nitrotpm_pcrs", map[int]any{0: strings.Repeat("a", 48)})
		}, attest.ErrMalformed, "nitrotpm_pcrs[0] is not a byte string"},
		{"user_data text", func(d *nitrotest.Document) { d.Edit = setField("user_data", "text") }, attest.ErrMalformed, "user_data is not a byte string or null"},
		{"user_data integer", func(d *nitrotest.Document) { d.Edit = setField("user_data", 7) }, attest.ErrMalformed, "user_data"},
		{"nonce map", func(d *nitrotest.Document) { d.Edit = setField("nonce", map[string]int{"a": 1}) }, attest.ErrMalformed, "nonce"},
		{"duplicate nitrotpm_pcrs", func(d *nitrotest.Document) { d.DuplicateKey = "nitrotpm_pcrs" }, attest.ErrMalformed, "duplicate"},
		{"duplicate module_id", func(d *nitrotest.Document) { d.DuplicateKey = "module_id" }, attest.ErrMalformed, "duplicate"},
		{"enclave module id", func(d *nitrotest.Document) { d.ModuleID = "i-0123456789abcdef0-enc0123456789abcdef" }, attest.ErrMalformed, "not a NitroTPM module id"},
		{"module id without instance", func(d *nitrotest.Document) { d.ModuleID = "tpm0123456789abcdef" }, attest.ErrMalformed, "not a NitroTPM module id"},
		{"module id upper case", func(d *nitrotest.Document) { d.ModuleID = "i-0123456789ABCDEF0-tpm0123456789abcdef" }, attest.ErrMalformed, "not a NitroTPM module id"},
		{"module id with suffix", func(d *nitrotest.Document) { d.ModuleID = nitrotest.DefaultNitroTPMModuleID + "-x" }, attest.ErrMalformed, "not a NitroTPM module id"},
		{"unknown field", func(d *nitrotest.Document) { d.UnknownField = true }, attest.ErrMalformed, "vendor_data"},
		{"pubkey name", func(d *nitrotest.Document) { d.KeyName = "pubkey" }, attest.ErrMalformed, "pubkey"},
		{"trailing bytes", func(d *nitrotest.Document) { d.TrailingBytes = true }, attest.ErrMalformed, ""},
		{"tampered signature", func(d *nitrotest.Document) { d.FlipSignature = true }, attest.ErrSignature, ""},
		{"untrusted ca", func(d *nitrotest.Document) { d.ForeignCA = true }, attest.ErrChain, ""},
		{"expired leaf", func(d *nitrotest.Document) { d.ExpiredLeaf = true }, attest.ErrExpired, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := genuineTPM(t)
			tc.edit(&d)
			doc := sign(t, ca, d)
			for name, v := range verifiers {
				c, err := v.Verify(doc, testVerifyTime)
				checkResult(t, c, err, tc.want)
				if err != nil && !strings.Contains(err.Error(), tc.says) {
					t.Errorf("%s: %q does not say %q", name, err, tc.says)
				}
				if c != nil && (c.Format != attest.FormatNitroTPM || len(c.NitroTPMPCRs) != 24 || c.PCRs != nil || c.Debug) {
					t.Errorf("%s: format %s, %d registers, pcrs %v, debug %v", name, c.Format, len(c.NitroTPMPCRs), c.PCRs, c.Debug)
				}
			}
		})
	}
}

// TestNitroTPMClaims: the claims of a genuine NitroTPM document, and the
// condition keys they give: NitroTPMPCR0..23 and Format only, never the
// Nitro Enclave keys PCRn and ImageSha384.
func TestNitroTPMClaims(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	d := genuineTPM(t)
	c, err := v.Verify(sign(t, ca, d), testVerifyTime)
	if err != nil {
		t.Fatal(err)
	}
	want := nitrotest.NitroTPMPCRs()
	if c.ModuleID != nitrotest.DefaultNitroTPMModuleID || c.UserData != nil || c.Nonce != nil || c.PublicKey == nil || c.KeyUnusable != nil || !c.Time.Equal(testDocTime) {
		t.Fatalf("claims %+v", c)
	}
	m := c.Measurements()
	if len(m) != 25 || m[attest.AttestationPrefix+"Format"] != "nitrotpm" {
		t.Fatalf("%d measurements: %v", len(m), m)
	}
	for i := range 24 {
		if !bytes.Equal(c.NitroTPMPCRs[i], want[i]) {
			t.Fatalf("register %d", i)
		}
		k := attest.AttestationPrefix + "NitroTPMPCR" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		if i < 10 {
			k = attest.AttestationPrefix + "NitroTPMPCR" + string(rune('0'+i))
		}
		if _, ok := m[k]; !ok {
			t.Fatalf("no %s", k)
		}
	}
	for _, k := range []string{"PCR0", "PCR4", "ImageSha384", "TpmPCR4"} {
		if _, ok := m[attest.AttestationPrefix+k]; ok {
			t.Fatalf("a NitroTPM document gives %s", k)
		}
	}
	if s := c.Summary(); s.PCR0 != "" || len(s.NitroTPMPCRs) != 24 || s.Format != "nitrotpm" {
		t.Fatalf("summary %+v", s)
	}
}

// TestNitroTPMKeyUnusable: a genuine document binding a key secrets cannot
// be wrapped to verifies, with PublicKey nil and KeyUnusable saying why.
func TestNitroTPMKeyUnusable(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	for _, tc := range []struct {
		name, typ, says string
		key             []byte
	}{
		{"ec p-384", "EC P-384", "public_key is EC P-384", p384SPKI(t)},
		{"rsa-1024", "RSA-1024", "RSA-1024", spki(t, &testKeys().rsa1024.PublicKey)},
		{"none", "none", "no public_key", nil},
		{"garbage", "invalid", "not the DER SubjectPublicKeyInfo", []byte{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := genuineTPM(t)
			d.PublicKey = tc.key
			c, err := v.Verify(sign(t, ca, d), testVerifyTime)
			if err != nil {
				t.Fatal(err)
			}
			if c.PublicKey != nil || !errors.Is(c.KeyUnusable, attest.ErrKey) || c.KeyType != tc.typ || !strings.Contains(c.KeyUnusable.Error(), tc.says) {
				t.Fatalf("key %v, type %q, unusable %v", c.PublicKey, c.KeyType, c.KeyUnusable)
			}
		})
	}
}

// TestNitroTPMNeverDebug: all-zero registers are not a debug mode (AWS
// documents none for NitroTPM); AllowDebug changes nothing.
func TestNitroTPMNeverDebug(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	d := genuineTPM(t)
	d.PCRs = tpmPCRsWith(func(m map[int][]byte) {
		for i := range m {
			m[i] = make([]byte, 48)
		}
	})
	doc := sign(t, ca, d)
	for _, allow := range []bool{false, true} {
		c, err := newVerifier(t, nitro.Options{Roots: ca.Roots(), AllowDebug: allow}).Verify(doc, testVerifyTime)
		if err != nil || c.Debug {
			t.Fatalf("allow %v: %v, debug %v", allow, err, c != nil && c.Debug)
		}
	}
}

// TestNitroTPMOnlyVerifier: a NitroTPM-only verifier refuses enclave
// documents; a Qingtian one refuses NitroTPM documents.
func TestNitroTPMOnlyVerifier(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Format: attest.FormatNitroTPM, Roots: ca.Roots()})
	c, err := v.Verify(sign(t, ca, genuine(t)), testVerifyTime)
	checkResult(t, c, err, attest.ErrMalformed)
	if !strings.Contains(err.Error(), "nitrotpm_pcrs is missing") {
		t.Fatal(err)
	}
	q := newVerifier(t, nitro.Options{Format: attest.FormatQingtian, Roots: ca.Roots()})
	c, err = q.Verify(sign(t, ca, genuineTPM(t)), testVerifyTime)
	checkResult(t, c, err, attest.ErrMalformed)
	// NitroTPM documents have the AWS root by default, as Nitro ones.
	if _, err := nitro.New(nitro.Options{Format: attest.FormatNitroTPM}); err != nil {
		t.Fatal(err)
	}
}

// realNitroTPMTime is when the real NitroTPM document was made.
var realNitroTPMTime = time.Date(2026, 3, 22, 2, 56, 0, 412e6, time.UTC)

// TestRealNitroTPMDocument: a real AWS NitroTPM document (testvectors/nitro,
// with its provenance) verifies with the embedded AWS root at its own time,
// through the Nitro verifier the server runs: format nitrotpm, 24
// registers, no key (so never a Recipient), only NitroTPMPCRn keys; any
// flipped byte is refused.
func TestRealNitroTPMDocument(t *testing.T) {
	doc := readVector(t, "nitrotpm_doc_2026-03-22_nokey.cose")
	at := realNitroTPMTime.Add(time.Second)
	v := newVerifier(t, nitro.Options{})
	c, err := v.Verify(doc, at)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Measurements()
	if c.Format != attest.FormatNitroTPM || len(c.NitroTPMPCRs) != 24 || c.PublicKey != nil || c.KeyType != "none" ||
		!errors.Is(c.KeyUnusable, attest.ErrKey) || len(c.Nonce) != 64 || c.UserData != nil || c.Debug ||
		m[attest.AttestationPrefix+"NitroTPMPCR17"] != strings.Repeat("f", 96) || len(m) != 25 {
		t.Fatalf("claims %+v", c)
	}
	kinds := map[error]int{}
	for i := range doc {
		d := bytes.Clone(doc)
		d[i] ^= 0xff
		c, err := v.Verify(d, at)
		if err == nil {
			t.Fatalf("byte %d changed: still verifies", i)
		}
		checkResult(t, c, err, nitro.KindsOf(err)[0])
		kinds[nitro.KindsOf(err)[0]]++
	}
	if kinds[attest.ErrSignature] == 0 || kinds[attest.ErrMalformed] == 0 {
		t.Errorf("kinds %v: want signature and parse failures", kinds)
	}
}

// p384SPKI is an EC key no algorithm takes (P-256 is an HPKE key).
func p384SPKI(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return spki(t, &k.PublicKey)
}

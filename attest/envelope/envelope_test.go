package envelope

import (
	"bytes"
	"crypto"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/fxamacker/cbor/v2"
)

// spki is a stand-in public_key: the envelope decoder checks its size only.
var spki = bytes.Repeat([]byte{0x30}, 294)

func snpEnvelope() *Envelope {
	return &Envelope{Format: attest.FormatSEVSNP, PublicKey: spki, Report: make([]byte, 1184), VCEK: []byte{0x30, 1}}
}

func tpmEnvelope() *Envelope {
	return &Envelope{Format: attest.FormatTPM2, PublicKey: spki, Quote: []byte{0xff}, Signature: []byte{1},
		PCRs: map[int][]byte{0: make([]byte, 32), 7: make([]byte, 32)}, AKPublic: []byte{1}}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []*Envelope{snpEnvelope(), tpmEnvelope()} {
		e.Nonce, e.UserData = []byte("n"), []byte("u")
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if f := attest.Sniff(b); f != e.Format {
			t.Fatalf("%s: attest.Sniff = %q", e.Format, f)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", e.Format, err)
		}
		again, _ := got.Marshal()
		if !bytes.Equal(again, b) {
			t.Fatalf("%s: decode/encode is not the identity", e.Format)
		}
	}
}

// TestEnvelopeStrict: every way of bending the schema is attest.ErrMalformed.
func TestEnvelopeStrict(t *testing.T) {
	good := mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": make([]byte, 1184), "vcek": []byte{1}})
	if _, err := Decode(good); err != nil {
		t.Fatalf("the baseline is refused: %v", err)
	}
	// Hand-made encodings the map encoder cannot produce.
	dupKey := append([]byte{0xa5}, good[1:]...)
	dupKey = append(dupKey, mustMarshal(t, "format")...)
	dupKey = append(dupKey, mustMarshal(t, "tpm2")...)
	indef := append([]byte{0xbf}, good[1:]...)
	indef = append(indef, 0xff)
	tagged := append([]byte{0xd8, 0x18}, good...) // tag 24 around the map
	upper := bytes.Replace(good, []byte("\x66format"), []byte("\x66FORMAT"), 1)

	cases := map[string][]byte{
		"trailing byte":      append(append([]byte{}, good...), 0),
		"duplicate key":      dupKey,
		"indefinite map":     indef,
		"tagged":             tagged,
		"key case":           upper,
		"unknown field":      mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": []byte{1}, "vcek": []byte{1}, "extra": 1}),
		"field of tpm2":      mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": []byte{1}, "vcek": []byte{1}, "quote": []byte{1}}),
		"field of sev-snp":   mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}, "ak_public": []byte{1}, "vcek": []byte{1}}),
		"unknown format":     mustMarshal(t, map[string]any{"format": "nitro", "public_key": spki}),
		"no format":          mustMarshal(t, map[string]any{"public_key": spki, "report": []byte{1}, "vcek": []byte{1}}),
		"format not text":    mustMarshal(t, map[string]any{"format": []byte("sev-snp"), "public_key": spki, "report": []byte{1}, "vcek": []byte{1}}),
		"key as text":        mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": "MIIB", "report": []byte{1}, "vcek": []byte{1}}),
		"no public_key":      mustMarshal(t, map[string]any{"format": "sev-snp", "report": []byte{1}, "vcek": []byte{1}}),
		"empty public_key":   mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": []byte{}, "report": []byte{1}, "vcek": []byte{1}}),
		"huge public_key":    mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": make([]byte, MaxKey+1), "report": []byte{1}, "vcek": []byte{1}}),
		"empty nonce":        mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "nonce": []byte{}, "report": []byte{1}, "vcek": []byte{1}}),
		"huge user_data":     mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "user_data": make([]byte, MaxData+1), "report": []byte{1}, "vcek": []byte{1}}),
		"huge report":        mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": make([]byte, 4096), "vcek": []byte{1}}),
		"no report":          mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "vcek": []byte{1}}),
		"vcek and vlek":      mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": []byte{1}, "vcek": []byte{1}, "vlek": []byte{1}}),
		"neither vcek/vlek":  mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": []byte{1}}),
		"huge vcek":          mustMarshal(t, map[string]any{"format": "sev-snp", "public_key": spki, "report": []byte{1}, "vcek": make([]byte, MaxCert+1)}),
		"no quote":           mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}, "ak_public": []byte{1}}),
		"no pcrs":            mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "ak_public": []byte{1}}),
		"empty pcrs":         mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{}, "ak_public": []byte{1}}),
		"pcr index 24":       mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{24: {1}}, "ak_public": []byte{1}}),
		"pcr index -1":       mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{-1: {1}}, "ak_public": []byte{1}}),
		"pcr text index":     mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[string][]byte{"0": {1}}, "ak_public": []byte{1}}),
		"pcr digest too big": mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: make([]byte, 65)}, "ak_public": []byte{1}}),
		"empty pcr":          mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {}}, "ak_public": []byte{1}}),
		"no ak":              mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}}),
		"chain without cert": mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}, "ak_public": []byte{1}, "ak_chain": [][]byte{{1}}}),
		"long chain":         mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}, "ak_cert": []byte{1}, "ak_chain": [][]byte{{1}, {1}, {1}, {1}, {1}}}),
		"empty chain entry":  mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}, "ak_cert": []byte{1}, "ak_chain": [][]byte{{}}}),
		"not a map":          mustMarshal(t, []any{"sev-snp"}),
		"too big":            append(good[:len(good):len(good)], make([]byte, attest.MaxEvidence)...),
	}
	// 25 PCRs (indices would be out of range anyway; this hits the count).
	many := map[int][]byte{}
	for i := 0; i < 25; i++ {
		many[i] = []byte{1}
	}
	cases["25 pcrs"] = mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": many, "ak_public": []byte{1}})
	// Nesting beyond the schema's depth.
	deep := []byte{}
	for i := 0; i < 64; i++ {
		deep = append(deep, 0x81)
	}
	deep = append(deep, 0)
	cases["deep"] = append(append([]byte{0xa1, 0x69}, "ak_chain\x00"[:9]...), deep...)

	for name, b := range cases {
		e, err := Decode(b)
		if !errors.Is(err, attest.ErrMalformed) || e != nil {
			t.Errorf("%s: Decode = %v, %v; want attest.ErrMalformed", name, e, err)
		}
	}
}

func TestEnvelopeMarshalChecks(t *testing.T) {
	e := snpEnvelope()
	e.Quote = []byte{1}
	if _, err := e.Marshal(); err == nil || !strings.Contains(err.Error(), "quote") {
		t.Fatalf("Marshal of a sev-snp envelope with a quote: %v", err)
	}
}

// TestBinding pins the binding's encoding with values computed by hand, so
// that a change to it (which would break every enclave) cannot pass.
func TestBinding(t *testing.T) {
	key := []byte{0x30, 0x03, 1, 2, 3}
	e := &Envelope{PublicKey: key}
	plain := crypto.SHA512.New()
	plain.Write(key)
	if got := e.Binding(crypto.SHA512); !bytes.Equal(got, plain.Sum(nil)) {
		t.Fatalf("without nonce and user_data Binding must be SHA-512(public_key): %x", got)
	}
	e.Nonce, e.UserData = []byte("nn"), []byte("uuu")
	h := crypto.SHA256.New()
	h.Write(key)
	h.Write([]byte{1, 0, 2, 'n', 'n', 2, 0, 3, 'u', 'u', 'u'})
	if got := e.Binding(crypto.SHA256); !bytes.Equal(got, h.Sum(nil)) {
		t.Fatalf("Binding with nonce and user_data = %x; want %x", got, h.Sum(nil))
	}
	// Moving bytes between the fields changes the binding.
	f := &Envelope{PublicKey: key, Nonce: []byte("nnu"), UserData: []byte("uu")}
	if bytes.Equal(f.Binding(crypto.SHA256), e.Binding(crypto.SHA256)) {
		t.Fatal("nonce/user_data boundary is not bound")
	}
	g := &Envelope{PublicKey: key, UserData: []byte("nn")}
	if bytes.Equal(g.Binding(crypto.SHA256), (&Envelope{PublicKey: key, Nonce: []byte("nn")}).Binding(crypto.SHA256)) {
		t.Fatal("a nonce and the same user_data bind alike")
	}
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], MaxData)
	if hex.EncodeToString(l[:]) != "0400" {
		t.Fatal("length prefix is not big-endian")
	}
}

type fakeVerifier struct{ got []byte }

func (f *fakeVerifier) Verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	f.got = evidence
	return &attest.Claims{Format: attest.FormatSEVSNP}, nil
}

func TestSetDispatchEnvelope(t *testing.T) {
	snp := &fakeVerifier{}
	s := &attest.Set{Envelopes: map[attest.Format]attest.Verifier{attest.FormatSEVSNP: snp}}
	b, _ := snpEnvelope().Marshal()
	if c, err := s.Verify(b, time.Now()); err != nil || c.Format != attest.FormatSEVSNP || snp.got == nil {
		t.Fatalf("sev-snp envelope not dispatched: %v %v", c, err)
	}
	b, _ = tpmEnvelope().Marshal()
	if c, err := s.Verify(b, time.Now()); !errors.Is(err, attest.ErrNoVerifier) || c != nil {
		t.Fatalf("tpm2 envelope without a verifier: %v %v", c, err)
	}
	snp.got = nil
	if _, err := s.Verify(append(b, 0), time.Now()); !errors.Is(err, attest.ErrMalformed) || snp.got != nil {
		t.Fatalf("malformed envelope: %v", err)
	}
}

// TestCheckHandMade: Check refuses a hand-made envelope Decode
// would, among them a nonce whose length would not fit Binding's two bytes.
func TestCheckHandMade(t *testing.T) {
	e := snpEnvelope()
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	e.Nonce = make([]byte, 1<<16+1)
	if err := e.Check(); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("a 65537-byte nonce: %v", err)
	}
	if err := (*Envelope)(nil).Check(); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("nil: %v", err)
	}
}

// The tdx envelope: a quote (bounded by MaxTDXQuote), optional collateral
// whose fields are bounded, never in another format's envelope.
func TestEnvelopeTDX(t *testing.T) {
	col := map[string]any{"tcb_info": []byte("{}"), "qe_identity": []byte("{}"), "tcb_signing_cert": []byte{1}}
	ok := map[string][]byte{
		"quote only":      mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": make([]byte, 5000)}),
		"with collateral": mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{4, 0}, "collateral": col}),
	}
	for name, b := range ok {
		if _, err := Decode(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string][]byte{
		"no quote":             mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki}),
		"quote too big":        mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": make([]byte, MaxTDXQuote+1)}),
		"tpm field":            mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}}),
		"collateral in tpm2":   mustMarshal(t, map[string]any{"format": "tpm2", "public_key": spki, "quote": []byte{1}, "signature": []byte{1}, "pcrs": map[int][]byte{0: {1}}, "ak_public": []byte{1}, "collateral": col}),
		"collateral no signer": mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{1}, "collateral": map[string]any{"tcb_info": []byte("{}"), "qe_identity": []byte("{}")}}),
		"collateral unknown":   mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{1}, "collateral": map[string]any{"tcb_info": []byte("{}"), "qe_identity": []byte("{}"), "tcb_signing_cert": []byte{1}, "x": 1}}),
		"collateral empty crl": mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{1}, "collateral": map[string]any{"tcb_info": []byte("{}"), "qe_identity": []byte("{}"), "tcb_signing_cert": []byte{1}, "pck_crl": []byte{}}}),
		"collateral huge json": mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{1}, "collateral": map[string]any{"tcb_info": make([]byte, MaxCollateralJSON+1), "qe_identity": []byte("{}"), "tcb_signing_cert": []byte{1}}}),
		"collateral not a map": mustMarshal(t, map[string]any{"format": "tdx", "public_key": spki, "quote": []byte{1}, "collateral": []byte{1}}),
	}
	for name, b := range bad {
		if _, err := Decode(b); !errors.Is(err, attest.ErrMalformed) {
			t.Errorf("%s: %v; want ErrMalformed", name, err)
		}
	}
}

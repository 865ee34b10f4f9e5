package attest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

type fakeVerifier struct {
	c   *Claims
	err error
}

func (f fakeVerifier) Verify([]byte, time.Time) (*Claims, error) { return f.c, f.err }

func TestSetDispatch(t *testing.T) {
	ok := &Claims{Format: FormatQingtian}
	chainErr := fmt.Errorf("%w: not our root", ErrChain)
	sigErr := fmt.Errorf("%w: bad", ErrSignature)
	now := time.Now()
	doc := []byte{0x84, 1, 2}

	s := &Set{COSE: []Verifier{fakeVerifier{err: chainErr}, fakeVerifier{c: ok}}}
	if c, err := s.Verify(doc, now); err != nil || c != ok {
		t.Fatalf("second verifier not tried: %v %v", c, err)
	}
	if c, err := s.Verify([]byte{0xd2, 0x84}, now); err != nil || c != ok {
		t.Fatalf("tagged COSE not dispatched: %v %v", c, err)
	}
	// The verifier that got past its chain explains the failure.
	s = &Set{COSE: []Verifier{fakeVerifier{err: chainErr}, fakeVerifier{err: sigErr}}}
	if _, err := s.Verify(doc, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("err = %v; want the signature error", err)
	}
	s = &Set{COSE: []Verifier{fakeVerifier{err: chainErr}, fakeVerifier{err: fmt.Errorf("%w: other", ErrChain)}}}
	if _, err := s.Verify(doc, now); err != chainErr {
		t.Fatalf("err = %v; want the first chain error", err)
	}
	for name, ev := range map[string][]byte{"empty": nil, "huge": make([]byte, MaxEvidence+1), "json": []byte(`{"a":1}`)} {
		if c, err := s.Verify(ev, now); !errors.Is(err, ErrMalformed) || c != nil {
			t.Errorf("%s: %v %v", name, c, err)
		}
	}
	if _, err := (&Set{}).Verify(doc, now); !errors.Is(err, ErrNoVerifier) {
		t.Fatalf("empty set: %v", err)
	}
}

func TestMeasurements(t *testing.T) {
	c := &Claims{Format: FormatNitro, PCRs: map[int][]byte{0: {0xAB, 0x01}, 8: {0xff}, 31: {0}}}
	m := c.Measurements()
	want := map[string]string{
		"kms:RecipientAttestation:Format": "nitro", "kms:RecipientAttestation:ImageSha384": "ab01",
		"kms:RecipientAttestation:PCR0": "ab01", "kms:RecipientAttestation:PCR8": "ff", "kms:RecipientAttestation:PCR31": "00",
	}
	if len(m) != len(want) {
		t.Fatalf("Measurements = %v", m)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q; want %q", k, m[k], v)
		}
	}
}

// A Qingtian document's PCRs are Huawei's keys, never Nitro's: another
// vendor's evidence must not pass a condition written for AWS's.
func TestMeasurementsQingtian(t *testing.T) {
	m := (&Claims{Format: FormatQingtian, PCRs: map[int][]byte{0: {0xAB}, 8: {0xCD}}}).Measurements()
	want := map[string]string{
		"kms:RecipientAttestation:Format": "qingtian",
		"kms:RecipientAttestation/PCR0":   "ab", "kms:RecipientAttestation/PCR8": "cd",
	}
	if len(m) != len(want) {
		t.Fatalf("Measurements = %v", m)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q; want %q", k, m[k], v)
		}
	}
}

func TestIsConditionKey(t *testing.T) {
	for key, want := range map[string]string{
		"kms:RecipientAttestation:Format":         "kms:RecipientAttestation:Format",
		"KMS:RECIPIENTATTESTATION:IMAGESHA384":    "kms:RecipientAttestation:ImageSha384",
		"kms:RecipientAttestation:PCR0":           "kms:RecipientAttestation:PCR0",
		"kms:recipientattestation:pcr31":          "kms:RecipientAttestation:PCR31",
		"kms:RecipientAttestation:SnpMeasurement": "kms:RecipientAttestation:SnpMeasurement",
		"kms:RecipientAttestation:SnpHostData":    "kms:RecipientAttestation:SnpHostData",
		"kms:RecipientAttestation:TpmPCR23":       "kms:RecipientAttestation:TpmPCR23",
		"kms:RecipientAttestation/PCR8":           "kms:RecipientAttestation/PCR8",
		"kms:recipientattestation/pcr0":           "kms:RecipientAttestation/PCR0",
		// Not keys: misspellings, bounds, leading zeros, other prefixes.
		"kms:RecipientAttestaton:ImageSha384":  "",
		"kms:RecipientAttestation:ImageSha38":  "",
		"kms:RecipientAttestation:PCR32":       "",
		"kms:RecipientAttestation:PCR07":       "",
		"kms:RecipientAttestation:PCR":         "",
		"kms:RecipientAttestation:PCR-1":       "",
		"kms:RecipientAttestation:TpmPCR24":    "",
		"kms:RecipientAttestation/ImageSha384": "",
		"kms:RecipientAttestation/Format":      "",
		"kms:RecipientAttestation/PCR32":       "",
		"kms:RecipientAttestation:":            "",
		"kms:RecipientAttestation":             "",
		"kms:RecipientAttestation:\u212aPCR0":  "",
		"aws:RecipientAttestation:PCR0":        "",
	} {
		got, ok := IsConditionKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("IsConditionKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	for _, key := range []string{"kms:RecipientAttestaton:X", "kms:RecipientAttestation:Nope", "KMS:RecipientAttestation/x"} {
		if key == "kms:RecipientAttestaton:X" {
			if IsAttestationKey(key) {
				t.Errorf("IsAttestationKey(%q)", key)
			}
			continue
		}
		if !IsAttestationKey(key) {
			t.Errorf("IsAttestationKey(%q) = false", key)
		}
	}
}

// TestSniff: Sniff names a verifier by shape and format tag only, and names
// none for anything it cannot route; what it lets through, the verifier
// decodes strictly.
func TestSniff(t *testing.T) {
	snp := map[string]any{"format": "sev-snp", "public_key": []byte{0x30}, "report": []byte{1}, "vcek": []byte{1}}
	withField := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range snp {
			m[k] = v
		}
		m[k] = v
		return m
	}
	good := mustMarshal(t, snp)
	for name, tc := range map[string]struct {
		evidence []byte
		want     Format
	}{
		"untagged COSE_Sign1": {[]byte{0x84, 0x40}, FormatCOSE},
		"tagged COSE_Sign1":   {[]byte{0xd2, 0x84}, FormatCOSE},
		"sev-snp envelope":    {good, FormatSEVSNP},
		"tpm2 envelope":       {mustMarshal(t, map[string]any{"format": "tpm2", "public_key": []byte{0x30}}), FormatTPM2},
		// Not Sniff's business: the verifier's strict decoder refuses it.
		"unknown field":                 {mustMarshal(t, withField("surprise", 1)), FormatSEVSNP},
		"unknown format":                {mustMarshal(t, withField("format", "sgx")), ""},
		"claims' format in an envelope": {mustMarshal(t, withField("format", "nitro")), ""},
		"the COSE shape's name":         {mustMarshal(t, withField("format", string(FormatCOSE))), ""},
		"no format":                     {mustMarshal(t, map[string]any{"public_key": []byte{0x30}}), ""},
		"format as bytes":               {mustMarshal(t, withField("format", []byte("sev-snp"))), ""},
		"format key in upper case":      {bytes.Replace(good, []byte("\x66format"), []byte("\x66FORMAT"), 1), ""},
		"trailing byte":                 {append(bytes.Clone(good), 0), ""},
		"indefinite-length map":         {append(append([]byte{0xbf}, good[1:]...), 0xff), ""},
		"empty":                         {nil, ""},
		"huge":                          {append([]byte{0x84}, make([]byte, MaxEvidence)...), ""},
		"json":                          {[]byte(`{"format":"sev-snp"}`), ""},
	} {
		if got := Sniff(tc.evidence); got != tc.want {
			t.Errorf("%s: Sniff = %q; want %q", name, got, tc.want)
		}
	}
}

func TestMeasurementsPerFormat(t *testing.T) {
	snp := (&Claims{Format: FormatSEVSNP, SNP: &SNPClaims{Measurement: []byte{0xAA}, HostData: []byte{0xBB}}}).Measurements()
	if snp[AttestationPrefix+"SnpMeasurement"] != "aa" || snp[AttestationPrefix+"SnpHostData"] != "bb" || snp[AttestationPrefix+"Format"] != "sev-snp" || len(snp) != 3 {
		t.Fatalf("sev-snp measurements = %v", snp)
	}
	tpm := (&Claims{Format: FormatTPM2, TPM: &TPMClaims{PCRs: map[int][]byte{0: {1}, 7: {0xCD}}}}).Measurements()
	if tpm[AttestationPrefix+"TpmPCR7"] != "cd" || tpm[AttestationPrefix+"TpmPCR0"] != "01" || len(tpm) != 3 {
		t.Fatalf("tpm2 measurements = %v", tpm)
	}
	// A format's names never leak into another's: TPM PCRs are not Nitro PCRs.
	if _, ok := tpm[AttestationPrefix+"PCR0"]; ok {
		t.Fatal("a TPM PCR0 answers a Nitro PCR0 condition")
	}
	// Even a (buggy) verifier setting PCRs on TPM claims does not make them Nitro's.
	odd := (&Claims{Format: FormatTPM2, PCRs: map[int][]byte{0: {1}}}).Measurements()
	if _, ok := odd[AttestationPrefix+"PCR0"]; ok {
		t.Fatal("PCRs of non-Nitro claims are exposed as PCR<n>")
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

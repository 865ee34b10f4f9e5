package attest

import "testing"

// Intel TDX's condition keys: known, canonicalised, bounded, and given by
// TDX claims only.
func TestTDXConditionKeys(t *testing.T) {
	for key, want := range map[string]string{
		"kms:RecipientAttestation:TdxMrTd":       "kms:RecipientAttestation:TdxMrTd",
		"kms:recipientattestation:tdxmrtd":       "kms:RecipientAttestation:TdxMrTd",
		"kms:RecipientAttestation:TdxRtmr0":      "kms:RecipientAttestation:TdxRtmr0",
		"kms:RecipientAttestation:TDXRTMR3":      "kms:RecipientAttestation:TdxRtmr3",
		"kms:RecipientAttestation:TdxMrConfigId": "kms:RecipientAttestation:TdxMrConfigId",
		"kms:RecipientAttestation:TdxTcbStatus":  "kms:RecipientAttestation:TdxTcbStatus",
		"kms:RecipientAttestation:TdxRtmr4":      "",
		"kms:RecipientAttestation:TdxRtmr03":     "",
		"kms:RecipientAttestation:TdxMrOwner":    "",
		"kms:RecipientAttestation/TdxMrTd":       "",
	} {
		got, ok := IsConditionKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("IsConditionKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	c := &Claims{Format: FormatTDX, TDX: &TDXClaims{MRTD: []byte{0xAA}, RTMR: [4][]byte{{1}, {2}, {3}, {0xFE}}, MRConfigID: []byte{0xC0}, TCBStatus: "UpToDate"}}
	m := c.Measurements()
	want := map[string]string{"Format": "tdx", "TdxMrTd": "aa", "TdxRtmr0": "01", "TdxRtmr3": "fe", "TdxMrConfigId": "c0", "TdxTcbStatus": "UpToDate"}
	for k, v := range want {
		if m[AttestationPrefix+k] != v {
			t.Errorf("%s = %q; want %q", k, m[AttestationPrefix+k], v)
		}
	}
	if len(m) != 8 {
		t.Fatalf("tdx measurements = %v", m)
	}
	// Other formats never give TDX keys, even with TDX claims attached.
	odd := (&Claims{Format: FormatSEVSNP, SNP: &SNPClaims{}, TDX: c.TDX}).Measurements()
	if _, ok := odd[AttestationPrefix+"TdxMrTd"]; ok {
		t.Fatal("SEV-SNP claims gave TdxMrTd")
	}
	if s := c.Summary(); s.TdxMrTd != "aa" || s.TdxTcbStatus != "UpToDate" {
		t.Fatalf("summary %+v", s)
	}
	if Sniff(mustMarshal(t, map[string]any{"format": "tdx"})) != FormatTDX {
		t.Fatal("sniff")
	}
}

// TestTdxTcbStatusIsTheWorse: the key is the worse of the platform's and
// the QE's statuses, so that a policy pinning UpToDate does not admit a QE
// at a status the server's --tdx-allow-tcb-status lets through.
func TestTdxTcbStatusIsTheWorse(t *testing.T) {
	for _, tc := range []struct{ platform, qe, want string }{
		{"UpToDate", "UpToDate", "UpToDate"},
		{"UpToDate", "SWHardeningNeeded", "SWHardeningNeeded"},
		{"OutOfDate", "UpToDate", "OutOfDate"},
		{"SWHardeningNeeded", "OutOfDate", "OutOfDate"},
		{"UpToDate", "SomethingNew", "SomethingNew"},
		{"SomethingNew", "Revoked", "SomethingNew"},
		{"UpToDate", "", "UpToDate"},
	} {
		c := &Claims{Format: FormatTDX, TDX: &TDXClaims{TCBStatus: tc.platform, QETCBStatus: tc.qe}}
		if got := c.Measurements()[AttestationPrefix+"TdxTcbStatus"]; got != tc.want {
			t.Errorf("platform %s, QE %s: TdxTcbStatus %q, want %q", tc.platform, tc.qe, got, tc.want)
		}
	}
}

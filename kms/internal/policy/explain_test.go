package policy

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	p := mustParse(t, attestedPolicy)
	enclave := "arn:aws:iam::111122223333:user/enclave"
	wrong := map[string][]string{
		"kms:RecipientAttestation:ImageSha384": {pcr(0)},
		"kms:RecipientAttestation:PCR1":        {pcr(5)},
		"kms:RecipientAttestation:PCR0":        {pcr(0)},
	}
	tests := []struct {
		name string
		r    *Request
		want Decision
		says []string
	}{
		{"no attestation", req(enclave, "kms:Decrypt", nil), ExplicitDeny, []string{
			`statement 0 (Sid "Administer"): does not apply: the action does not match`,
			`statement 1 (Sid "Enclave uses the key"): does not apply: StringEquals on kms:RecipientAttestation:ImageSha384 does not hold (the key is absent); ` +
				`StringEquals on kms:RecipientAttestation:PCR1 does not hold (the key is absent); StringEquals on kms:RecipientAttestation:PCR2 does not hold (the key is absent); ` +
				`StringLike on kms:EncryptionContext:tenant does not hold (the key is absent)`,
			`statement 2 (Sid "Only the measured image decrypts"): applies: Deny`,
		}},
		{"every unmet condition", req(enclave, "kms:Decrypt", wrong), Deny, []string{
			`statement 1 (Sid "Enclave uses the key"): does not apply: StringEquals on kms:RecipientAttestation:PCR1 does not hold (the key is present); ` +
				`StringEquals on kms:RecipientAttestation:PCR2 does not hold (the key is absent); StringLike on kms:EncryptionContext:tenant does not hold (the key is absent)`,
			`statement 2 (Sid "Only the measured image decrypts"): does not apply: StringNotEquals on kms:RecipientAttestation:PCR0 does not hold (the key is present)`,
		}},
		{"principal", req(stranger, "kms:Decrypt", nil), ExplicitDeny, []string{
			`statement 0 (Sid "Administer"): does not apply: the principal does not match`,
			`statement 1 (Sid "Enclave uses the key"): does not apply: the principal does not match`,
		}},
		{"admin", req(root, "kms:PutKeyPolicy", nil), Allow, []string{
			`statement 0 (Sid "Administer"): applies: Allow`,
			`statement 1 (Sid "Enclave uses the key"): does not apply: the principal does not match`,
			`statement 2 (Sid "Only the measured image decrypts"): does not apply: the action does not match`,
		}},
		{"malformed", &Request{Principal: "x"}, ExplicitDeny, []string{"cannot be judged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, lines := p.Explain(tt.r)
			if d != tt.want || d != p.Evaluate(tt.r) {
				t.Errorf("decision %v, Evaluate %v, want %v", d, p.Evaluate(tt.r), tt.want)
			}
			all := strings.Join(lines, "\n")
			for _, s := range tt.says {
				if !strings.Contains(all, s) {
					t.Errorf("Explain does not say\n  %s\nit says\n  %s", s, strings.ReplaceAll(all, "\n", "\n  "))
				}
			}
			if strings.Contains(all, pcr(0)) || strings.Contains(all, pcr(5)) {
				t.Errorf("Explain echoes a value:\n%s", all)
			}
		})
	}
	d := mustParse(t, doc(`{"Sid":"r","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"`+otherKey+`"}`))
	if _, lines := d.Explain(req(alice, "kms:Decrypt", nil)); len(lines) != 1 || !strings.HasSuffix(lines[0], "the resource does not match") {
		t.Errorf("resource: %q", lines)
	}
}

package policy

import "testing"

func TestAllowsPolicyUpdate(t *testing.T) {
	type who struct {
		principal string
		want      bool
	}
	tests := []struct {
		name, policy string
		callers      []who
	}{
		{"default policy", defaultPolicy, []who{{root, true}, {alice, true}, {stranger, false}, {otherRt, false}}},
		{"only decrypt", doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`),
			[]who{{root, false}, {alice, false}}},
		{"alice administers", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:Put*","kms:Describe*"]}`),
			[]who{{alice, true}, {bob, false}, {root, false}}},
		{"NotAction excludes it", doc(`{"Effect":"Allow","Principal":"*","NotAction":"kms:PutKeyPolicy"}`),
			[]who{{root, false}}},
		{"another key's ARN", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"` + otherKey + `"}`),
			[]who{{root, false}}},
		{"this key's ARN", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"` + keyARN + `"}`),
			[]who{{root, true}}},
		{"allowed only with attestation", doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + nitroImage + `"}}}`),
			[]who{{root, false}, {alice, false}}},
		{"allowed only with IfExists: still needs context", doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Condition":{"StringEqualsIfExists":{"kms:RecipientAttestation:PCR0":"00"}}}`),
			[]who{{root, false}}},
		{"explicit deny", doc(defaultStatement, `{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:PutKeyPolicy"}`),
			[]who{{alice, false}, {bob, true}, {root, true}}},
		{"deny with a condition counts", doc(defaultStatement, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`),
			[]who{{root, false}}},
		{"deny of other actions", doc(defaultStatement, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Condition":{"StringNotEquals":{"kms:RecipientAttestation:PCR0":"00"}}}`),
			[]who{{root, true}}},
		{"conditioned allow beside an unconditioned one", doc(defaultStatement, `{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"Null":{"kms:RecipientAttestation:PCR0":"false"}}}`),
			[]who{{alice, true}, {stranger, false}}},
	}
	for _, tt := range tests {
		p := mustParse(t, tt.policy)
		for _, c := range tt.callers {
			if got := p.AllowsPolicyUpdate(c.principal, c.principal[13:25], keyARN); got != c.want {
				t.Errorf("%s: %s: got %v, want %v", tt.name, c.principal, got, c.want)
			}
		}
	}

	p := mustParse(t, defaultPolicy)
	for _, bad := range [][3]string{
		{root, otherAcc, keyARN}, // account mismatch
		{"root", acct, keyARN},   // not an ARN
		{root, acct, ""},         // no resource
		{"", "", keyARN},         // nobody
		{"arn:aws:iam::111122223333", acct, keyARN},
	} {
		if p.AllowsPolicyUpdate(bad[0], bad[1], bad[2]) {
			t.Errorf("AllowsPolicyUpdate(%q, %q, %q) = true", bad[0], bad[1], bad[2])
		}
	}
	var nilPolicy *Policy
	if nilPolicy.AllowsPolicyUpdate(root, acct, keyARN) {
		t.Error("nil policy allows")
	}
}

const defaultStatement = `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`

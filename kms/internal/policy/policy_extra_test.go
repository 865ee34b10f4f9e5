package policy

import "testing"

func TestAttestationBound(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`:                                                                                                                            false,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"kms:EncryptionContext:a":"b"}}}]}`:                                                               false,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"kms:recipientattestation:PCR0":"ab"}}}]}`:                                                        true,
		`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Condition":{"Null":{"kms:RecipientAttestation:ImageSha384":"true"}}}]}`:                                                        true,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"},{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"StringLike":{"kms:RecipientAttestation:PCR8":"*"}}}]}`: true,
	} {
		p, err := Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.AttestationBound(); got != want {
			t.Errorf("%s: %v", doc, got)
		}
	}
}

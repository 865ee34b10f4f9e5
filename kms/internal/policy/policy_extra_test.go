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

func TestConsults(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{
		"Bool":{"AWS:securetransport":"true"},"StringEquals":{"kms:EncryptionContext:App":"x","kms:recipientattestation:pcr0":"ab"}}}`))
	for key, want := range map[string]bool{
		KeySecureTransport:                     true,
		KeyEncryptionContext:                   true,
		"kms:RecipientAttestation:":            true, // attest.AttestationPrefix: any measurement
		"kms:RecipientAttestation:PCR0":        true,
		"kms:RecipientAttestation:ImageSha384": false,
		KeySourceIP:                            false,
		KeyCallerAccount:                       false,
		KeyContextKeys:                         false,
	} {
		if got := p.Consults(key); got != want {
			t.Errorf("Consults(%q) = %v", key, got)
		}
	}
	if mustParse(t, defaultPolicy).Consults(KeyCallerAccount) || (*Policy)(nil).Consults(KeySourceIP) {
		t.Error("a policy without conditions consults a key")
	}
	if n := testing.AllocsPerRun(100, func() { p.Consults(KeySecureTransport) }); n != 0 {
		t.Errorf("Consults allocates %v times", n)
	}
}

package kms

import "testing"

// BenchmarkAuthorize is the policy decision of one keyed request: the
// attestation gate, the request's condition context and Evaluate, on the
// default policy and on an enclave-only one; the raw cryptography of the
// cheapest operation it guards (one AES-GCM seal, BenchmarkSealBlob) is the
// yardstick.
func BenchmarkAuthorize(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	acct := s.Account().AccountID
	enclave := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}}]}`
	for _, tc := range []struct{ name, policy, action string }{
		{"default", "", "kms:GenerateDataKey"},
		{"enclave-only/Encrypt", enclave, "kms:Encrypt"},
	} {
		md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: tc.policy})
		if err != nil {
			b.Fatal(err)
		}
		k, err := s.loadKey(bg, c, md.KeyID)
		if err != nil {
			b.Fatal(err)
		}
		ec := EncryptionContext{"app": "bench"}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.authorize(c, k, tc.action, nil, ec); err != nil {
					b.Fatal(err)
				}
			}
		})
		k.release()
	}
}

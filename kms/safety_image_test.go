package kms

import (
	"errors"
	"testing"
)

// TestSafetyCheckFormatOnlyIsNoMeasurement: CreateKey's attestation safety
// check refuses an Allow of kms:Decrypt whose only enclave condition is
// kms:RecipientAttestation:Format. The format names a vendor, not a
// workload: a key whose only enclave condition is "Format": "nitro" would
// release its secrets to every genuine Nitro enclave of anyone's image (an
// attacker's own enclave, in its own AWS account, unwraps them). The same
// holds for kms:RecipientAttestation:TdxTcbStatus (a platform patch level;
// the policy package's table, TestAttestationSafety). Should CreateKey
// accept the policy, the test shows the attacker's enclave decrypting.
func TestSafetyCheckFormatOnlyIsNoMeasurement(t *testing.T) {
	mine, attacker := newEnclave(t, 0xab), newEnclave(t, 0x66) // two images
	v := &fakeVerifier{enclaves: []*enclave{mine, attacker}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	acct := s.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Describe*","kms:Put*","kms:Get*","kms:Encrypt"],"Resource":"*"},
	  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"}}}]}`
	md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
	if errors.Is(err, ErrMalformedPolicy) {
		return // refused: fixed
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Errorf("CreateKey accepted an attestation-bound policy whose only enclave condition is kms:RecipientAttestation:Format")
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("the secret")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, Recipient: attacker.recipient(1)})
	if err != nil {
		t.Fatalf("Decrypt to another image's enclave: %v", err)
	}
	if got := attacker.unwrap(t, r.CiphertextForRecipient); string(got) == "the secret" {
		t.Errorf("an enclave of an unrelated image (PCR0 66…) received the key's secret")
	}
}

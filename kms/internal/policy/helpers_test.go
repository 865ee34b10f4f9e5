package policy

import (
	"strings"
	"testing"
)

const (
	acct     = "111122223333"
	otherAcc = "444455556666"
	root     = "arn:aws:iam::111122223333:root"
	alice    = "arn:aws:iam::111122223333:user/alice"
	bob      = "arn:aws:iam::111122223333:user/bob"
	stranger = "arn:aws:iam::444455556666:user/mallory"
	otherRt  = "arn:aws:iam::444455556666:root"
	keyARN   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	otherKey = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)

// defaultPolicy is AWS KMS's default key policy, as the brief and AWS give it.
const defaultPolicy = `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`

// kmsDefaultPolicy is the same policy as package kms writes it today.
const kmsDefaultPolicy = `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`

// nitroImage is the image digest in AWS's Nitro Enclaves key policy example.
const nitroImage = "9fedcba8abcdef7abcdef6abcdef5abcdef4abcdef3abcdef2abcdef1abcdef1abcdef0abcdef1abcdef2abcdef3abcdef4abcdef5abcdef6abcdef7abcdef99"

// nitroPolicy is AWS's example key policy statement for Nitro Enclaves
// (KMS developer guide, "Condition keys for Nitro Enclaves"), as a policy.
const nitroPolicy = `{"Version":"2012-10-17","Statement":[{
  "Sid" : "Enable enclave data processing",
  "Effect" : "Allow",
  "Principal" : { "AWS" : "arn:aws:iam::111122223333:role/data-processing" },
  "Action": [ "kms:Decrypt", "kms:DeriveSharedSecret", "kms:GenerateDataKey", "kms:GenerateDataKeyPair", "kms:GenerateRandom" ],
  "Resource" : "*",
  "Condition": { "StringEqualsIgnoreCase": {
    "kms:RecipientAttestation:ImageSha384": "` + nitroImage + `"
  } }
}]}`

const dataProcessing = "arn:aws:iam::111122223333:role/data-processing"

// pcr returns a 48-byte measurement in lower-case hex, distinct per i, as
// attest.Claims.Measurements writes one.
func pcr(i int) string {
	b := make([]byte, 96)
	const digits = "0123456789abcdef"
	for j := range b {
		b[j] = digits[(i*7+j*13+5)%16]
	}
	return string(b)
}

// attested is the context of a request with Nitro evidence whose PCRn is
// pcr(n), under the keys attestkms will use.
func attested() map[string][]string {
	ctx := map[string][]string{
		"kms:RecipientAttestation:Format":      {"nitro"},
		"kms:RecipientAttestation:ImageSha384": {pcr(0)},
	}
	for i := 0; i < 32; i++ {
		ctx["kms:RecipientAttestation:PCR"+itoa(i)] = []string{pcr(i)}
	}
	return ctx
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// doc makes a policy of the given statements.
func doc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func mustParse(t testing.TB, d string) *Policy {
	t.Helper()
	p, err := Parse(d)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, d)
	}
	return p
}

// req is a request by principal, in principal's account, on keyARN.
func req(principal, action string, ctx map[string][]string) *Request {
	account := principal[len("arn:aws:iam::") : len("arn:aws:iam::")+12]
	return &Request{Principal: principal, Account: account, Action: action, Resource: keyARN, Context: ctx}
}

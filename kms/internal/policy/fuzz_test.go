package policy

import (
	"errors"
	"strings"
	"testing"
)

// attestedPolicy is a key policy for an enclave key: the account administers
// but cannot use the key; the enclave role uses it only from the measured
// image; and no one decrypts from another image or without attestation.
var attestedPolicy = `{
  "Version": "2012-10-17",
  "Id": "enclave-key",
  "Statement": [
    {
      "Sid": "Administer",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "NotAction": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DeriveSharedSecret", "kms:ReEncrypt*"],
      "Resource": "*"
    },
    {
      "Sid": "Enclave uses the key",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::111122223333:user/enclave", "arn:aws:iam::111122223333:role/data-processing"]},
      "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateRandom"],
      "Resource": "*",
      "Condition": {
        "StringEquals": {
          "kms:RecipientAttestation:ImageSha384": "` + strings.ToUpper(pcr(0)) + `",
          "kms:RecipientAttestation:PCR1": "` + pcr(1) + `",
          "kms:RecipientAttestation:PCR2": "` + pcr(2) + `"
        },
        "StringLike": {"kms:EncryptionContext:tenant": "t-*"}
      }
    },
    {
      "Sid": "Only the measured image decrypts",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "kms:Decrypt",
      "Resource": "*",
      "Condition": {"StringNotEquals": {"kms:RecipientAttestation:PCR0": "` + pcr(0) + `"}}
    }
  ]
}`

// seedPolicies are the fuzzer's seeds: the policies the tests use.
func seedPolicies() []string {
	return []string{
		defaultPolicy,
		kmsDefaultPolicy,
		nitroPolicy,
		attestedPolicy,
		doc(defaultStatement, `{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice"]},"NotAction":"kms:Describe*","NotResource":"arn:aws:kms:*:111122223333:key/*"}`),
		doc(`{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"kms:*"}`),
		doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{
			"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":["a*","?b"]},
			"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},
			"DateLessThanIfExists":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
			"NumericGreaterThan":{"aws:EpochTime":"1700000000"},
			"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"},
			"ForAllValues:StringNotEqualsIgnoreCase":{"kms:EncryptionContextKeys":"secret"},
			"Null":{"kms:RecipientAttestation:PCR0":false},
			"BoolIfExists":{"aws:SecureTransport":true},
			"StringNotLikeIfExists":{"kms:EncryptionContext:x":5}}}`),
		`{"Statement":{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*"}}`,
		`{"Statement":[{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"kms:*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":[[[[[[]]]]]]}]}`,
	}
}

// fuzzRequests are fixed requests every parsed policy is evaluated on.
func fuzzRequests() []*Request {
	ambiguous := map[string][]string{"kms:EncryptionContext:x": {"1"}, "KMS:EncryptionContext:X": {"2"}}
	multi := map[string][]string{"aws:TagKeys": {"ab", "b", ""}, "kms:EncryptionContextKeys": {}, "kms:EncryptionContext:x": {"\xff"}}
	var out []*Request
	for _, who := range []string{root, alice, stranger} {
		for _, action := range []string{"kms:Decrypt", "kms:PutKeyPolicy"} {
			for _, ctx := range []map[string][]string{nil, attested(), multi, ambiguous} {
				out = append(out, req(who, action, ctx))
			}
		}
	}
	return append(out, nil, &Request{Principal: "arn:aws:iam::111122223333:", Account: acct, Action: "kms:Decrypt", Resource: "*"})
}

// FuzzParse: no panic; a refusal is ErrMalformed with no policy; Parse is
// deterministic; a parsed policy evaluates the fixed requests without panic,
// the same way twice, to a defined Decision that Explain agrees with; and when the lockout check
// passes for a caller, the policy allows that caller kms:PutKeyPolicy
// whatever the context (but an ambiguous one).
func FuzzParse(f *testing.F) {
	for _, s := range seedPolicies() {
		f.Add(s)
	}
	requests := fuzzRequests()
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		p2, err2 := Parse(doc)
		if err != nil {
			if p != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("refusal with a policy or of no kind: %v, %v", p, err)
			}
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Parse is not deterministic: %v, then %v", err, err2)
			}
			return
		}
		if err2 != nil {
			t.Fatalf("Parse is not deterministic: ok, then %v", err2)
		}
		if n := len(p.statements); n == 0 || n > maxStatements {
			t.Fatalf("%d statements", n)
		}
		for _, r := range requests {
			d := p.Evaluate(r)
			if d != p2.Evaluate(r) || d < Deny || d > ExplicitDeny {
				t.Fatalf("Evaluate: %v, then %v", d, p2.Evaluate(r))
			}
			if e, lines := p.Explain(r); e != d || len(lines) == 0 {
				t.Fatalf("Explain says %v in %d lines, Evaluate %v", e, len(lines), d)
			}
		}
		for _, who := range []string{root, alice, stranger} {
			if !p.AllowsPolicyUpdate(who, who[13:25], keyARN) {
				continue
			}
			for _, r := range requests[:len(requests)-2] { // not the nil and malformed ones
				if _, amb := r.Context["KMS:EncryptionContext:X"]; amb {
					continue // an ambiguous context is refused by any statement that consults it
				}
				if r.Principal == who && r.Action == putKeyPolicy && p.Evaluate(r) != Allow {
					t.Fatalf("the lockout check passes %s but Evaluate gives %v with context %v", who, p.Evaluate(r), r.Context)
				}
			}
		}
		// The safety check is sound on any document (FuzzPolicySafety
		// explores the interesting ones).
		if p.AttestationBound() && len(p.CheckAttestationSafety(acct, keyARN)) == 0 {
			if leak := unattestedLeak(p, acct, keyARN); leak != "" {
				t.Fatalf("the safety check passed, yet Evaluate allows %s without evidence", leak)
			}
		}
		p.Lint() // no panic on any document
	})
}

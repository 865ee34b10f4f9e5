package policy

import (
	"strings"
	"testing"
)

// Pieces the generator draws policies from: the principals, actions,
// resources and conditions whose mix the safety check must get right.
var (
	genPrincipals = []string{
		`"Principal":"*"`, `"Principal":{"AWS":"111122223333"}`, `"Principal":{"AWS":"arn:aws:iam::111122223333:root"}`,
		`"Principal":{"AWS":"arn:aws:iam::111122223333:user/ci"}`, `"Principal":{"AWS":["arn:aws:iam::111122223333:user/ci","arn:aws:iam::111122223333:user/ops"]}`,
		`"Principal":{"AWS":"444455556666"}`, `"Principal":{"Service":"ec2.amazonaws.com"}`,
		`"NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/ci"}`, `"NotPrincipal":{"AWS":"111122223333"}`,
	}
	genActions = []string{
		`"Action":"kms:*"`, `"Action":"*"`, `"Action":"kms:Re*"`, `"Action":"kms:Decrypt"`, `"Action":"kms:GenerateDataKey*"`,
		`"Action":["kms:Encrypt","kms:GenerateDataKeyWithoutPlaintext"]`, `"Action":` + secretList, `"Action":"kms:?e*"`,
		`"Action":"kms:DeriveSharedSecret"`, `"NotAction":["kms:Decrypt","kms:GenerateDataKey"]`, `"NotAction":` + secretList,
		`"NotAction":"kms:Encrypt"`, `"Action":` + adminActions,
	}
	genResources = []string{``, `,"Resource":"*"`, `,"Resource":"` + keyARN + `"`, `,"Resource":"` + otherKey + `"`,
		`,"NotResource":"` + otherKey + `"`, `,"NotResource":"*"`, `,"Resource":"arn:aws:kms:*:111122223333:key/*"`}
	genOperators = []string{
		"StringEquals", "StringNotEquals", "StringEqualsIfExists", "StringNotEqualsIfExists", "StringLike", "StringNotLike",
		"StringEqualsIgnoreCase", "ForAllValues:StringEquals", "ForAnyValue:StringEquals", "ForAllValues:StringNotEquals",
		"ForAnyValue:StringNotLike", "Null", "StringLikeIfExists", "StringEqualsIgnoreCaseIfExists", "ForAnyValue:StringEqualsIfExists",
	}
	genKeys = []string{"kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation:Format", "kms:RecipientAttestation/PCR0", "kms:EncryptionContext:app",
		"kms:RecipientAttestation:PCR8", "kms:RecipientAttestation:SnpHostData", "kms:RecipientAttestation:TpmPCR7", "kms:RecipientAttestation:PCR16", "kms:RecipientAttestation:TpmPCR4",
		"kms:RecipientAttestation:PCR0", "kms:RecipientAttestation:PCR2", "kms:RecipientAttestation/PCR8", "kms:RecipientAttestation:SnpMeasurement",
		"kms:RecipientAttestation:TdxMrTd", "kms:RecipientAttestation:NitroTPMPCR4"}
	genValues = []string{`"ab"`, `"x"`, `"*"`, `"true"`, `"false"`, `["ab","x"]`, `"nitro"`, `"tpm2"`, `["nitro","sev-snp"]`, `"ab*"`, `"00"`, `["ab","00"]`, `"qingtian"`, `"nitrotpm"`, `"tdx"`, `"sev-snp"`}
	genExtra  = []string{`"Bool":{"aws:SecureTransport":"false"}`, `"Bool":{"aws:SecureTransport":"true"}`, `"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}`, `"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}`}
)

// genPolicy turns bytes into a policy of one to four statements.
func genPolicy(data []byte) string {
	next := func(n int) int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b) % n
	}
	var stmts []string
	for n := 1 + next(4); n > 0; n-- {
		effect := []string{"Allow", "Deny"}[next(2)]
		st := `{"Effect":"` + effect + `",` + genPrincipals[next(len(genPrincipals))] + `,` + genActions[next(len(genActions))] + genResources[next(len(genResources))]
		ops := map[string][]string{}
		var order []string
		for k := next(4); k > 0; k-- {
			op := genOperators[next(len(genOperators))]
			key := genKeys[next(len(genKeys))]
			val := genValues[next(len(genValues))]
			if op == "Null" {
				val = []string{`"true"`, `"false"`}[next(2)]
			}
			if _, ok := ops[op]; !ok {
				order = append(order, op)
			}
			ops[op] = append(ops[op], `"`+key+`":`+val)
		}
		var conds []string
		for _, op := range order {
			conds = append(conds, `"`+op+`":{`+strings.Join(ops[op], ",")+`}`)
		}
		if next(3) == 0 {
			conds = append(conds, genExtra[next(len(genExtra))])
		}
		if len(conds) > 0 {
			st += `,"Condition":{` + strings.Join(conds, ",") + `}`
		}
		stmts = append(stmts, st+`}`)
	}
	return doc(stmts...)
}

// FuzzPolicySafety: whenever the safety check passes an attestation-bound
// policy, Evaluate itself allows no request without evidence, nor one with
// evidence of a workload the policy does not name (foreignContexts), any
// secret action, for any caller or context the generator's policies can tell apart
// — for the key it was checked for (the server's check), and for any key
// and account (lint's).
func FuzzPolicySafety(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{2, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 0, 0, 0})
	f.Add([]byte{1, 0, 1, 9, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{2, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0})
	f.Add([]byte{3, 0, 3, 9, 6, 1, 2, 0, 0, 0, 0, 1, 5, 12, 1, 1, 2, 0, 0, 0, 0, 2, 0, 2, 0, 0, 2})
	// Format nitro with StringEqualsIfExists on PCR8, on PCR2, and Format
	// qingtian with it on /PCR8: registers a genuine document may leave
	// out, so the IfExists condition binds nothing (carriedAlways).
	f.Add([]byte{0, 0, 1, 3, 1, 2, 0, 1, 6, 2, 4, 0, 1})
	f.Add([]byte{0, 0, 1, 3, 1, 2, 0, 1, 6, 2, 10, 0, 1})
	f.Add([]byte{0, 0, 1, 3, 1, 2, 0, 1, 12, 2, 11, 0, 1})
	// Format nitro and StringEquals PCR2 alone: an image with its own
	// kernel and /init before the genuine application has that PCR2.
	f.Add([]byte{0, 0, 1, 0, 1, 1, 0, 10, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := genPolicy(data)
		p, err := Parse(d)
		if err != nil {
			return // e.g. Null with a set operator; the generator allows it
		}
		if !p.AttestationBound() {
			if len(p.CheckAttestationSafety(acct, keyARN)) != 0 {
				t.Fatalf("findings on a policy that is not attestation-bound:\n%s", d)
			}
			return
		}
		if len(p.CheckAttestationSafety(acct, keyARN)) == 0 {
			if leak := unattestedLeak(p, acct, keyARN); leak != "" {
				t.Fatalf("the check passed, yet Evaluate allows %s without evidence:\n%s", leak, d)
			}
		}
		if len(p.CheckAttestationSafety("", "")) == 0 {
			for _, key := range []string{keyARN, otherKey} {
				for _, account := range []string{acct, otherAcc} {
					res := strings.Replace(key, acct, account, 1)
					if leak := unattestedLeak(p, account, res); leak != "" {
						t.Fatalf("lint passed, yet Evaluate allows %s on %s without evidence:\n%s", leak, res, d)
					}
				}
			}
		}
	})
}

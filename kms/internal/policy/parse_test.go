package policy

import (
	"errors"
	"strings"
	"testing"
)

// allow is a minimal valid statement, for building malformed documents.
const allow = `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`

type refusal struct{ name, doc, want string }

// refusals are malformed documents, each with what its error must say.
func refusals() []refusal {
	stmt := func(fields string) string {
		return doc(`{"Sid":"s1","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt"` + fields + `}`)
	}
	cond := func(c string) string { return stmt(`,"Condition":` + c) }
	deep := `{"Statement":[{"Sid":` + strings.Repeat("[", 10) + strings.Repeat("]", 10) + `}]}`

	return []refusal{
		// The document.
		{"empty", ``, "ends early"},
		{"not json", `{"Statement":`, "ends early"},
		{"syntax", `{"Statement" [` + allow + `]}`, "not JSON"},
		{"trailing comma", `{"Statement":[` + allow + `,]}`, "not JSON"},
		{"list", `[` + allow + `]`, "a list, not an object"},
		{"two values", doc(allow) + ` {}`, "data after"},
		{"trailing garbage", doc(allow) + `x`, "data after"},
		{"33 KiB", doc(allow) + strings.Repeat(" ", 33<<10), "more than 32768"},
		{"not utf-8", `{"Id":"` + "\xff" + `","Statement":` + allow + `}`, "not UTF-8"},
		{"lone surrogate", `{"Id":"\ud800","Statement":` + allow + `}`, `unpaired surrogate escape, at "Id"`},
		{"lone surrogate key", doc(`{"\udfff":1}`), `unpaired surrogate escape, at "Statement[0]"`},
		{"empty key", `{"":{"":{"":{"":{"":{"":[]}}}}}}`, `nested deeper than 6 levels, at "....."`},
		{"bracket key", `{"Statement":[{"[0]":{"a":{"b":{"c":[]}}}}]}`, `nested deeper than 6 levels, at "Statement[0].[0].a.b.c"`},
		{"deep nesting", deep, `nested deeper than 6 levels, at "Statement[0].Sid[0][0][0]"`},
		{"very deep nesting", strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000), "nested deeper"},
		{"long list", stmt(`,"Resource":[` + strings.Repeat(`"*",`, maxList) + `"*"]`), `more than 500 entries, at "Statement[0].Resource"`},

		// Top level.
		{"unknown top-level key", `{"Statement":` + allow + `,"Statment":[]}`, `unknown top-level element "Statment"`},
		{"lower-case statement", `{"statement":[` + allow + `]}`, `unknown top-level element "statement"`},
		{"duplicate top-level key", `{"Version":"2012-10-17","Version":"2008-10-17","Statement":` + allow + `}`, `duplicate key "Version"`},
		{"duplicate by escape", `{"Id":"a","\u0049d":"b","Statement":` + allow + `}`, `duplicate key "Id"`},
		{"Version 2099", `{"Version":"2099-01-01","Statement":` + allow + `}`, "Version must be"},
		{"Version number", `{"Version":2012,"Statement":` + allow + `}`, "Version must be"},
		{"Id not string", `{"Id":1,"Statement":` + allow + `}`, "Id must be a string"},
		{"no Statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"empty Statement", `{"Statement":[]}`, "Statement is empty"},
		{"Statement string", `{"Statement":"x"}`, "statement 0 is a string"},
		{"Statement null", `{"Statement":null}`, "statement 0 is null"},
		{"too many statements", doc(strings.Repeat(allow+",", maxStatements) + allow), "101 statements"},

		// Statement.
		{"unknown statement key", stmt(`,"Conditions":{}`), `statement 0 (Sid "s1"): unknown element "Conditions"`},
		{"lower-case statement key", stmt(`,"resource":"*"`), `unknown element "resource"`},
		{"duplicate Effect", doc(`{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*"}`), `duplicate key "Effect" in "Statement[0]"`},
		{"duplicate Sid value", doc(`{"Sid":"x","Effect":"Allow","Principal":"*","Action":"kms:*"}`, `{"Sid":"x","Effect":"Deny","Principal":"*","Action":"kms:*"}`), `statements 0 and 1 have the same Sid "x"`},
		{"Sid not string", doc(`{"Sid":1,"Effect":"Allow","Principal":"*","Action":"kms:*"}`), "Sid must be a string"},
		{"no Effect", doc(`{"Sid":"e","Principal":"*","Action":"kms:*"}`), `statement 0 (Sid "e") has no Effect`},
		{"Effect lower-case", doc(`{"Effect":"allow","Principal":"*","Action":"kms:*"}`), `statement 0: Effect must be "Allow" or "Deny", not "allow"`},
		{"Effect bool", doc(`{"Effect":true,"Principal":"*","Action":"kms:*"}`), "Effect must be a string"},
		{"no Principal", doc(`{"Effect":"Allow","Action":"kms:*"}`), "has no Principal or NotPrincipal"},
		{"Principal and NotPrincipal", doc(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*"}`), "both Principal and NotPrincipal"},
		{"no Action", doc(`{"Sid":"a","Effect":"Allow","Principal":"*"}`), `statement 0 (Sid "a") has no Action or NotAction`},
		{"Action and NotAction", stmt(`,"NotAction":"kms:Encrypt"`), "both Action and NotAction"},
		{"Resource and NotResource", stmt(`,"Resource":"*","NotResource":"*"`), "both Resource and NotResource"},

		// Principal.
		{"principal ARN string", doc(`{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"kms:*"}`), `Principal: must be "*" or an object`},
		{"principal list", doc(`{"Effect":"Allow","Principal":["*"],"Action":"kms:*"}`), "Principal: must be"},
		{"principal empty object", doc(`{"Effect":"Allow","Principal":{},"Action":"kms:*"}`), "Principal: empty object"},
		{"wildcard principal ARN", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*"}`), "wildcards are not allowed in a principal ARN"},
		{"wildcard account", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"kms:*"}`), "wildcards are not allowed"},
		{"wildcard NotPrincipal", doc(`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/a?"]},"Action":"kms:*"}`), "NotPrincipal: AWS: wildcards"},
		{"principal type case", doc(`{"Effect":"Allow","Principal":{"aws":"*"},"Action":"kms:*"}`), `unknown principal type "aws"`},
		{"principal bad account", doc(`{"Effect":"Allow","Principal":{"AWS":"11112222333"},"Action":"kms:*"}`), "is not \"*\", a 12-digit account id"},
		{"principal not IAM", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:s3:::bucket"},"Action":"kms:*"}`), "a 12-digit account id or an IAM ARN"},
		{"principal empty list", doc(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*"}`), "AWS: empty list"},
		{"principal variable", doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/${aws:username}"},"Action":"kms:*"}`), "policy variables"},
		{"service principal empty", doc(`{"Effect":"Allow","Principal":{"Service":""},"Action":"kms:*"}`), "Service: empty principal"},

		// Action and Resource.
		{"Action empty list", stmt(`,"Resource":[]`), "Resource: empty list"},
		{"Action number", doc(`{"Effect":"Allow","Principal":"*","Action":5}`), "Action: a number, not a string"},
		{"Action no service", doc(`{"Effect":"Allow","Principal":"*","Action":"Decrypt"}`), `Action: "Decrypt" is not "*" or <service>:<action>`},
		{"Action wildcard service", doc(`{"Effect":"Allow","Principal":"*","Action":"k*:Decrypt"}`), "bad service prefix"},
		{"Action space", doc(`{"Effect":"Allow","Principal":"*","NotAction":["kms:Decrypt "]}`), "NotAction: \"kms:Decrypt \": bad action name"},
		{"Resource not ARN", stmt(`,"Resource":"key/1234"`), `Resource: "key/1234" is not "*" or an ARN`},
		{"Resource variable", stmt(`,"NotResource":"arn:aws:kms:*:${aws:PrincipalAccount}:key/*"`), "policy variables"},

		// Condition.
		{"Condition not object", cond(`"StringEquals"`), "Condition: must be an object, not a string"},
		{"Condition empty", cond(`{}`), "Condition: empty object"},
		{"unknown operator", cond(`{"StringEqualz":{"kms:CallerAccount":"111122223333"}}`), `unknown or unsupported operator "StringEqualz"`},
		{"unsupported operator", cond(`{"BinaryEquals":{"kms:CallerAccount":"AQ=="}}`), `unsupported operator "BinaryEquals"`},
		{"operator case", cond(`{"stringequals":{"kms:CallerAccount":"111122223333"}}`), "unsupported operator"},
		{"bare IfExists", cond(`{"IfExists":{"kms:CallerAccount":"111122223333"}}`), "unsupported operator"},
		{"NullIfExists", cond(`{"NullIfExists":{"kms:CallerAccount":"true"}}`), `operator "NullIfExists"`},
		{"ForAnyValue:Null", cond(`{"ForAnyValue:Null":{"kms:CallerAccount":"true"}}`), `operator "ForAnyValue:Null"`},
		{"unknown set operator", cond(`{"ForSomeValues:StringEquals":{"kms:EncryptionContextKeys":"a"}}`), "unsupported operator"},
		{"operator body string", cond(`{"StringEquals":"kms:CallerAccount"}`), "StringEquals: must be an object of condition keys, not a string"},
		{"operator body list", cond(`{"StringEquals":[{"kms:CallerAccount":"1"}]}`), "must be an object of condition keys, not a list"},
		{"operator body empty", cond(`{"StringEquals":{}}`), "StringEquals: no condition keys"},
		{"condition key no prefix", cond(`{"StringEquals":{"CallerAccount":"1"}}`), `unknown condition key "CallerAccount"`},

		// The condition keys are a closed set: a key the server never puts in a
		// context would be absent from every request, deciding silently.
		{"unevaluated global key", cond(`{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`), `unknown condition key "aws:MultiFactorAuthPresent": attestkms does not evaluate it`},
		{"unevaluated kms key", cond(`{"NumericLessThan":{"kms:GrantConstraintType":"1"}}`), `unknown condition key "kms:GrantConstraintType"`},
		{"tag keys", cond(`{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}`), `unknown condition key "aws:TagKeys"`},
		{"misspelt attestation prefix", cond(`{"StringEquals":{"kms:RecipientAttestaton:ImageSha384":"ab"}}`), `unknown condition key "kms:RecipientAttestaton:ImageSha384"`},
		{"misspelt measurement", cond(`{"StringEquals":{"kms:RecipientAttestation:ImageSha386":"ab"}}`), `"kms:RecipientAttestation:ImageSha386": not a measurement any evidence gives`},
		{"PCR out of range", cond(`{"StringEquals":{"kms:RecipientAttestation:PCR32":"ab"}}`), `unknown condition key "kms:RecipientAttestation:PCR32"`},
		{"TPM PCR out of range", cond(`{"StringEquals":{"kms:RecipientAttestation:TpmPCR24":"ab"}}`), `unknown condition key`},
		{"NitroTPM PCR out of range", cond(`{"StringEquals":{"kms:RecipientAttestation:NitroTPMPCR24":"ab"}}`), `unknown condition key`},
		{"Huawei ImageSha384", cond(`{"StringEquals":{"kms:RecipientAttestation/ImageSha384":"ab"}}`), `unknown condition key "kms:RecipientAttestation/ImageSha384"`},
		{"empty encryption context key", cond(`{"StringEquals":{"kms:EncryptionContext:":"a"}}`), `unknown condition key "kms:EncryptionContext:"`},
		{"other service", cond(`{"StringEquals":{"s3:prefix":"a"}}`), `unknown condition key "s3:prefix"`},

		// Each operator applies to keys of its type.
		{"IpAddress on a string", cond(`{"IpAddress":{"kms:CallerAccount":"10.0.0.0/8"}}`), `IpAddress cannot be used with kms:CallerAccount, whose values are a string`},
		{"StringEquals on an IP", cond(`{"StringEquals":{"aws:SourceIp":"10.0.0.1"}}`), `StringEquals cannot be used with aws:SourceIp, whose values are an IP address`},
		{"Bool on a string", cond(`{"Bool":{"kms:EncryptionContext:a":"true"}}`), `Bool cannot be used with kms:EncryptionContext:a`},
		{"Numeric on a date", cond(`{"NumericLessThan":{"aws:CurrentTime":"5"}}`), `NumericLessThan cannot be used with aws:CurrentTime, whose values are a date`},
		{"Date on a string", cond(`{"DateLessThan":{"kms:KeySpec":"2020-01-01"}}`), `DateLessThan cannot be used with kms:KeySpec`},
		{"Arn on a string", cond(`{"ArnLike":{"kms:CallerAccount":"arn:aws:iam::1:root"}}`), `ArnLike cannot be used with kms:CallerAccount`},
		{"Arn on a measurement", cond(`{"ArnEquals":{"kms:RecipientAttestation:PCR0":"arn:a:b:c:d:e"}}`), `ArnEquals cannot be used with kms:RecipientAttestation:PCR0`},
		{"SecureTransport as a string", cond(`{"StringEquals":{"aws:SecureTransport":"true"}}`), `StringEquals cannot be used with aws:SecureTransport, whose values are a boolean`},

		// Typed values.
		{"IP value", cond(`{"IpAddress":{"aws:SourceIp":"10.0.0.256"}}`), `value "10.0.0.256" is not an IP address or CIDR block`},
		{"CIDR host bits", cond(`{"IpAddress":{"aws:SourceIp":"10.1.2.3/8"}}`), `value "10.1.2.3/8" is not an IP address or CIDR block`},
		{"CIDR length", cond(`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), `is not an IP address or CIDR block`},
		{"IP zone", cond(`{"IpAddress":{"aws:SourceIp":"fe80::1%eth0"}}`), `is not an IP address or CIDR block`},
		{"IP hostname", cond(`{"IpAddress":{"aws:SourceIp":"localhost"}}`), `is not an IP address`},
		{"date value", cond(`{"DateLessThan":{"aws:CurrentTime":"next tuesday"}}`), `value "next tuesday" is not a date`},
		{"date without zone", cond(`{"DateLessThan":{"aws:CurrentTime":"2026-01-02T15:04:05"}}`), `is not a date`},
		{"date bool", cond(`{"DateLessThan":{"aws:CurrentTime":true}}`), `is not a date`},
		{"numeric value", cond(`{"NumericLessThan":{"aws:EpochTime":"1e9"}}`), `value "1e9" is not a decimal number`},
		{"numeric hex", cond(`{"NumericLessThan":{"aws:EpochTime":"0x10"}}`), `is not a decimal number`},
		{"numeric NaN", cond(`{"NumericEquals":{"aws:EpochTime":"NaN"}}`), `is not a decimal number`},
		{"ARN value", cond(`{"ArnLike":{"aws:PrincipalArn":"alice"}}`), `value "alice" is not an ARN`},
		{"ARN parts", cond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam:111122223333"}}`), `is not an ARN`},
		{"condition values empty", cond(`{"StringEquals":{"kms:CallerAccount":[]}}`), "kms:CallerAccount: empty list of values"},
		{"condition value null", cond(`{"StringEquals":{"kms:CallerAccount":null}}`), "a value is null"},
		{"condition value object", cond(`{"StringEquals":{"kms:CallerAccount":{"a":"b"}}}`), "a value is an object"},
		{"condition value nested list", cond(`{"StringEquals":{"kms:CallerAccount":[["1"]]}}`), "nested deeper than 6"},
		{"Bool value", cond(`{"Bool":{"aws:SecureTransport":"yes"}}`), `value "yes" is not true or false`},
		{"Null value", cond(`{"Null":{"aws:SecureTransport":1}}`), `value "1" is not true or false`},
		{"condition variable", cond(`{"StringEquals":{"kms:EncryptionContext:user":"${aws:username}"}}`), "policy variables"},
		{"duplicate operator", cond(`{"StringEquals":{"kms:CallerAccount":"1"},"StringEquals":{"kms:CallerAccount":"2"}}`), `duplicate key "StringEquals" in "Statement[0].Condition"`},
		{"duplicate condition key", cond(`{"StringEquals":{"kms:CallerAccount":"1","kms:CallerAccount":"2"}}`), `duplicate key "kms:CallerAccount" in "Statement[0].Condition.StringEquals"`},
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range refusals() {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.doc)
			if err == nil {
				t.Fatalf("Parse accepted it:\n%s", tt.doc)
			}
			if p != nil {
				t.Errorf("Parse returned a policy with its error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error is not ErrMalformed: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if msg := err.Error(); strings.ToLower(msg[:1]) != msg[:1] || strings.HasSuffix(msg, ".") {
				t.Errorf("error %q is not lower-case without a final period", msg)
			}
		})
	}
}

type acceptance struct{ name, doc string }

// acceptances are well-formed documents.
func acceptances() []acceptance {
	return []acceptance{
		{"default", defaultPolicy},
		{"kms default", kmsDefaultPolicy},
		{"nitro", nitroPolicy},
		{"no Version", `{"Statement":` + allow + `}`},
		{"2008 Version", `{"Version":"2008-10-17","Statement":` + allow + `}`},
		{"single statement object", `{"Statement":` + allow + `}`},
		{"Principal star", doc(`{"Effect":"Allow","Principal":"*","Action":"*"}`)},
		{"AWS star", doc(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"}`)},
		{"principal list", doc(`{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/r","arn:aws:sts::111122223333:assumed-role/r/s"]},"Action":"kms:*"}`)},
		{"other principal types", doc(`{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"kms:*"}`)},
		{"actions", doc(`{"Effect":"Allow","Principal":"*","Action":["kms:Generate*","kms:*Key","KMS:decrypt","s3:GetObject","kms:Re?ncrypt*"]}`)},
		{"resources", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":["*","arn:aws:kms:*:111122223333:key/*"]}`)},
		{"NotResource", doc(`{"Effect":"Deny","Principal":"*","Action":"kms:*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/*"}`)},
		{"every operator", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{
			"StringEquals":{"kms:CallerAccount":"111122223333"},
			"StringNotEquals":{"kms:CallerAccount":["1","2"]},
			"StringEqualsIgnoreCase":{"kms:EncryptionContext:a":"x"},
			"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:a":"y"},
			"StringLike":{"kms:EncryptionContext:a":"x*"},
			"StringNotLike":{"kms:EncryptionContext:a":"?y"},
			"Bool":{"aws:SecureTransport":true},
			"BoolIfExists":{"aws:SecureTransport":"true"},
			"Null":{"kms:EncryptionContext:b":false},
			"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContext:c":5},
			"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]},
			"ForAllValues:StringLikeIfExists":{"kms:EncryptionContextKeys":"t*"},
			"ForAllValues:StringNotEqualsIgnoreCase":{"kms:EncryptionContextKeys":"secret"},
			"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.1","2001:db8::/32","::1"]},
			"NotIpAddressIfExists":{"aws:SourceIp":"10.9.0.0/16"},
			"DateEquals":{"aws:CurrentTime":"2026-01-02T03:04:05Z"},
			"DateNotEquals":{"aws:CurrentTime":"2026-01-02"},
			"DateLessThan":{"aws:CurrentTime":"2026-01-02T03:04:05.123+01:00"},
			"DateLessThanEquals":{"aws:EpochTime":"1767225600"},
			"DateGreaterThan":{"aws:EpochTime":"2026-01-01T00:00:00Z"},
			"DateGreaterThanEquals":{"aws:CurrentTime":1767225600},
			"NumericEquals":{"aws:EpochTime":1767225600},
			"NumericNotEquals":{"aws:EpochTime":"-1"},
			"NumericLessThan":{"aws:EpochTime":"1767225600.5"},
			"NumericLessThanEquals":{"aws:EpochTime":"1"},
			"NumericGreaterThan":{"aws:EpochTime":"0"},
			"NumericGreaterThanEqualsIfExists":{"aws:EpochTime":"0"},
			"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"},
			"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"},
			"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:root"},
			"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::444455556666:*"},
			"StringLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::*"},
			"StringEqualsIgnoreCaseIfExists":{"aws:RequestedRegion":"us-east-1"},
			"StringNotEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"},
			"StringEqualsIfExists":{"kms:KeyUsage":"ENCRYPT_DECRYPT","kms:KeyOrigin":"AWS_KMS","kms:RequestAlias":"alias/app"}}}`)},
		{"every measurement key", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"StringEquals":{
			"kms:RecipientAttestation:Format":"nitro","kms:RecipientAttestation:ImageSha384":"ab","kms:RecipientAttestation:PCR0":"ab",
			"kms:RecipientAttestation:PCR31":"ab","kms:RecipientAttestation/PCR0":"ab","kms:RecipientAttestation/PCR31":"ab",
			"kms:RecipientAttestation:SnpMeasurement":"ab","kms:RecipientAttestation:SnpHostData":"ab",
			"kms:RecipientAttestation:TpmPCR0":"ab","kms:RecipientAttestation:TpmPCR23":"ab","KMS:RECIPIENTATTESTATION:IMAGESHA384":"ab"}}}`)},
		{"Huawei's Qingtian example", doc(`{"Effect":"Allow","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*","Condition":{"StringEqualsIgnoreCase":{
			"kms:RecipientAttestation/PCR0":["c5158cb6ee9dbb0ead648c3dc80e472c85e0d67f19fb53fbd3fb94c3371aec63cdb93b80d727a7084248873b1d8e8b41"],
			"kms:RecipientAttestation/PCR8":["705afb1012d27f4e07a25e674e6a17dec57305e29cd412184b7bcb78d9e67f16a0cc26d8706a4fab418a5da5788bc949"]}}}`)},
		{"escapes", `{"Id":"caf\u00e9 \"q\"","Statement":` + allow + `}`},
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tt := range acceptances() {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.doc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseKeepsIDAndVersion(t *testing.T) {
	p := mustParse(t, defaultPolicy)
	if p.ID() != "key-default-1" || p.Version() != "2012-10-17" {
		t.Errorf("Id %q Version %q", p.ID(), p.Version())
	}
	p = mustParse(t, `{"Statement":`+allow+`}`)
	if p.ID() != "" || p.Version() != "" {
		t.Errorf("Id %q Version %q", p.ID(), p.Version())
	}
}

// A document at the size limit parses: the bound is AWS's, not tighter.
func TestParseSizeLimit(t *testing.T) {
	d := doc(allow)
	d += strings.Repeat(" ", maxDocument-len(d))
	if _, err := Parse(d); err != nil {
		t.Fatalf("a %d-byte document: %v", len(d), err)
	}
	if _, err := Parse(d + " "); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a %d-byte document: %v", len(d)+1, err)
	}
}

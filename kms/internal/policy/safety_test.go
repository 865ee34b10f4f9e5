package policy

import (
	"maps"
	"strconv"
	"strings"
	"testing"
)

// Statements for the safety table. acct is the key's account.
const (
	attCond   = `"Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}`
	enclaveOK = `{"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["kms:Decrypt","kms:GenerateDataKey"],` + attCond + `}`
	// adminActions is AWS's "key administrators" list plus Encrypt: nothing
	// in it releases a secret.
	adminActions = `["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"]`
	secretList   = `["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair","kms:DeriveSharedSecret","kms:ReEncryptFrom"]`
)

func allowStmt(principal, action, cond string) string {
	s := `{"Effect":"Allow","Principal":` + principal + `,"Action":` + action
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + `}`
}

func denyStmt(principal, action, cond string) string {
	return strings.Replace(allowStmt(principal, action, cond), `"Allow"`, `"Deny"`, 1)
}

const account = `{"AWS":"111122223333"}`

// zero48 is an all-zero SHA-384 register, in hex: what PCR8 reads for an
// unsigned image.
var zero48 = strings.Repeat("00", 48)

// TestAttestationSafety is the safety check's table: each policy with the
// verdict written by hand — "" for accepted, or the first finding's
// statement index and action.
func TestAttestationSafety(t *testing.T) {
	onAtt := func(op, val string) string {
		return `{"` + op + `":{"kms:RecipientAttestation:ImageSha384":` + val + `}}`
	}
	tests := []struct {
		name   string
		policy string
		want   string // "statement N: action", or "" when safe
		lint   string // the same for lint (any key, any account); "=" for want
	}{
		// Not attestation-bound: nothing to check.
		{"default policy", defaultPolicy, "", "="},
		{"encryption context only", doc(allowStmt(account, `"kms:*"`, `{"StringEquals":{"kms:EncryptionContext:app":"x"}}`)), "", "="},

		// Wildcards and lists that reach a secret action without a condition.
		{"kms:*", doc(allowStmt(account, `"kms:*"`, ""), enclaveOK), "statement 0: kms:Decrypt", "="},
		{"*", doc(allowStmt(account, `"*"`, ""), enclaveOK), "statement 0: kms:Decrypt", "="},
		{"kms:Re*", doc(allowStmt(account, `"kms:Re*"`, ""), enclaveOK), "statement 0: kms:ReEncryptFrom", "="},
		{"kms:ReEncrypt*", doc(allowStmt(account, `"kms:ReEncrypt*"`, ""), enclaveOK), "statement 0: kms:ReEncryptFrom", "="},
		{"kms:ReEncryptTo only", doc(allowStmt(account, `"kms:ReEncryptTo"`, ""), enclaveOK), "", "="},
		{"kms:Generate*", doc(allowStmt(account, `"kms:Generate*"`, ""), enclaveOK), "statement 0: kms:GenerateDataKey", "="},
		{"kms:GenerateDataKeyPair*", doc(allowStmt(account, `"kms:GenerateDataKeyPair*"`, ""), enclaveOK), "statement 0: kms:GenerateDataKeyPair", "="},
		{"kms:?ecrypt", doc(allowStmt(account, `"kms:?ecrypt"`, ""), enclaveOK), "statement 0: kms:Decrypt", "="},
		{"action in another case", doc(allowStmt(account, `"KMS:decrypt"`, ""), enclaveOK), "statement 0: kms:Decrypt", "="},
		{"DeriveSharedSecret", doc(enclaveOK, allowStmt(account, `"kms:DeriveSharedSecret"`, "")), "statement 1: kms:DeriveSharedSecret", "="},
		{"no secret action", doc(allowStmt(account, `["kms:Encrypt","kms:GenerateDataKeyWithoutPlaintext","kms:GenerateDataKeyPairWithoutPlaintext","kms:GetPublicKey","kms:GenerateRandom"]`, ""), enclaveOK), "", "="},
		{"administrators", doc(allowStmt(account, adminActions, ""), enclaveOK), "", "="},

		// NotAction.
		{"NotAction the two", doc(allowStmt(account, `["kms:Decrypt","kms:GenerateDataKey"]`, "")[:0]+`{"Effect":"Allow","Principal":`+account+`,"NotAction":["kms:Decrypt","kms:GenerateDataKey"]}`, enclaveOK), "statement 0: kms:DeriveSharedSecret", "="},
		{"NotAction every secret", doc(`{"Effect":"Allow","Principal":`+account+`,"NotAction":`+secretList+`}`, enclaveOK), "", "="},
		{"NotAction kms:*", doc(`{"Effect":"Allow","Principal":`+account+`,"NotAction":"kms:*"}`, enclaveOK), "", "="},

		// Conditions that hold when the request carries no evidence.
		{"IfExists", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringEqualsIfExists", `"ab"`))), "statement 0: kms:Decrypt", "="},
		{"ForAllValues", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("ForAllValues:StringEquals", `"ab"`))), "statement 0: kms:Decrypt", "="},
		{"ForAnyValue requires", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("ForAnyValue:StringEquals", `"ab"`))), "", "="},
		{"StringNotEquals", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringNotEquals", `"ab"`))), "statement 0: kms:Decrypt", "="},
		{"StringNotLike", doc(allowStmt(account, `"kms:GenerateDataKey"`, onAtt("StringNotLike", `"ab*"`))), "statement 0: kms:GenerateDataKey", "="},
		{"StringNotEqualsIgnoreCase", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringNotEqualsIgnoreCase", `"AB"`))), "statement 0: kms:Decrypt", "="},
		{"Null true", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("Null", `"true"`))), "statement 0: kms:Decrypt", "="},
		// Conditions that require evidence but admit any workload's: an
		// attacker's own enclave, on genuine hardware, gets the secret.
		{"Null false admits any image", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("Null", `"false"`))), "statement 0: kms:Decrypt", "="},
		{"StringLike * admits any image", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringLike", `"*"`))), "statement 0: kms:Decrypt", "="},
		{"StringLike a prefix admits images found by trying", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringLike", `"ab*"`))), "statement 0: kms:Decrypt", "="},
		{"StringLike without a wildcard pins", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringLike", `"ab"`))), "", "="},
		{"Format alone names a vendor", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"}}`)), "statement 0: kms:Decrypt", "="},
		{"TdxTcbStatus is a patch level", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TdxTcbStatus":"UpToDate"}}`)), "statement 0: kms:Decrypt", "="},
		{"SnpHostData is the host's", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:SnpHostData":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"TdxMrConfigId is the host's", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TdxMrConfigId":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR4 is the parent instance", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR4":"ab","kms:RecipientAttestation:PCR3":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR16 is extended by the enclave", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR16":"ab","kms:RecipientAttestation/PCR31":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR1 is nitro-cli's kernel", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR1":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"RTMRs are extended by the TD", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TdxRtmr3":"ab","kms:RecipientAttestation:TdxRtmr0":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"TPM PCR0 is the firmware, PCR23 resettable", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TpmPCR0":"ab","kms:RecipientAttestation:TpmPCR23":"ab","kms:RecipientAttestation:NitroTPMPCR12":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR16 beside the image binds", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR16":"ab","kms:RecipientAttestation:PCR0":"ab"}}`)), "", "="},
		{"each format's image key binds", doc(
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR2":"ab","kms:RecipientAttestation:PCR1":"cd"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation/PCR2":"ab","kms:RecipientAttestation/PCR1":"cd"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR8":"ab"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation/PCR8":"ab"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:SnpMeasurement":"ab","kms:RecipientAttestation:SnpHostData":"ab"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TdxMrTd":"ab","kms:RecipientAttestation:TdxTcbStatus":"UpToDate"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TpmPCR4":"ab","kms:RecipientAttestation:TpmPCR7":"ab"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:NitroTPMPCR4":"ab"}}`)), "", "="},
		// PCR2 measures the application's ramdisks only: an image built
		// with its own kernel and /init before them has the genuine PCR2
		// and need not run the application. It binds beside a pin on PCR1
		// (what ran first), not alone, not beside an IfExists or negated
		// PCR1, not beside the other format's PCR1; a Deny on it excuses
		// nothing.
		{"PCR2 alone is the application, not what runs it", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro","kms:RecipientAttestation:PCR2":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"Qingtian PCR2 alone", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation/PCR2":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR2 beside an IfExists PCR1", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR2":"ab"},"StringEqualsIfExists":{"kms:RecipientAttestation:PCR1":"cd"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR2 beside a negated PCR1", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR2":"ab"},"StringNotEquals":{"kms:RecipientAttestation:PCR1":"cd"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR2 beside Qingtian's PCR1", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR2":"ab","kms:RecipientAttestation/PCR1":"cd"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR2 beside a PCR1 in another statement", doc(
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR2":"ab"}}`),
			allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR1":"cd"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but an application", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:PCR2":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but an application and its kernel", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:PCR2":"ab","kms:RecipientAttestation:PCR1":"cd"}}`)), "statement 0: kms:Decrypt", "="},
		// PCR7 is Secure Boot's policy (which keys may sign what boots),
		// not what booted: every image a trusted signer ever signed, a
		// distribution's shim and kernel among them, gives the same PCR7.
		{"TPM PCR7 is Secure Boot's policy", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:TpmPCR7":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"NitroTPM PCR7 is Secure Boot's policy", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:NitroTPMPCR7":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but a Secure Boot policy admits any signed image", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:NitroTPMPCR7":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		// An all-zero register measured nothing: Nitro's and Qingtian's PCR8
		// is zero for every unsigned image, a TPM's PCR4 before any boot
		// manager ran.
		{"PCR8 zero admits every unsigned image", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR8":"`+zero48+`"}}`)), "statement 0: kms:Decrypt", "="},
		{"Qingtian PCR8 zero", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation/PCR8":["`+strings.Repeat("ab", 48)+`","`+zero48+`"]}}`)), "statement 0: kms:Decrypt", "="},
		{"StringLike zero", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringLike":{"kms:RecipientAttestation:TpmPCR4":"`+strings.Repeat("0", 64)+`"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but unsigned images", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:PCR8":"`+zero48+`"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but the image or unsigned ones", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"ab","kms:RecipientAttestation:PCR8":"`+zero48+`"}}`)), "statement 0: kms:Decrypt", "="},
		{"PCR8 zero beside the image binds", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR8":"`+zero48+`","kms:RecipientAttestation:PCR0":"ab"}}`)), "", "="},
		{"IfExists beside the format that always gives the key", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},"StringEqualsIfExists":{"kms:RecipientAttestation:PCR0":"ab"}}`)), "", "="},
		// A Nitro or Qingtian document need not report PCR2 or PCR8 (the
		// parser requires none; only PCR0's absence is refused, as debug
		// mode): the format does not make them present.
		{"IfExists on PCR2 beside the format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},"StringEqualsIfExists":{"kms:RecipientAttestation:PCR2":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists on PCR2 beside the format and PCR1", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro","kms:RecipientAttestation:PCR1":"cd"},"StringEqualsIfExists":{"kms:RecipientAttestation:PCR2":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists on PCR8 beside the format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},"StringEqualsIfExists":{"kms:RecipientAttestation:PCR8":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists on Qingtian's PCR8 beside the format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"qingtian"},"StringEqualsIfExists":{"kms:RecipientAttestation/PCR8":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists on Qingtian's PCR0 beside the format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"qingtian"},"StringEqualsIfExists":{"kms:RecipientAttestation/PCR0":"ab"}}`)), "", "="},
		{"IfExists beside another format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},"StringEqualsIfExists":{"kms:RecipientAttestation:SnpMeasurement":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists beside two formats", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":["nitro","sev-snp"]},"StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists beside tpm2, whose quote selects its PCRs", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"tpm2"},"StringEqualsIfExists":{"kms:RecipientAttestation:TpmPCR4":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		// The Format condition that lets an …IfExists image condition count
		// must itself fail without evidence, and name one format only.
		{"IfExists beside the format in another case", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"NITRO"},"StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "", "="},
		{"IfExists beside an IfExists format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEqualsIfExists":{"kms:RecipientAttestation:Format":"nitro","kms:RecipientAttestation:ImageSha384":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists beside a negated format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringNotEquals":{"kms:RecipientAttestation:Format":"tpm2"},"StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"IfExists beside a format pattern", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringLike":{"kms:RecipientAttestation:Format":"nitro"},"StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"ForAllValues IfExists beside the format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},"ForAllValues:StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "", "="},
		{"ForAllValues without IfExists holds without evidence", doc(allowStmt(account, `"kms:Decrypt"`, `{"ForAllValues:StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"ForAnyValue pins", doc(allowStmt(account, `"kms:Decrypt"`, `{"ForAnyValue:StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "", "="},
		{"StringLike ? admits images found by trying", doc(allowStmt(account, `"kms:Decrypt"`, onAtt("StringLike", `"a?"`))), "statement 0: kms:Decrypt", "="},
		{"the image key named in another case pins", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"KMS:recipientattestation:imagesha384":"ab"}}`)), "", "="},
		{"one weak, one strong", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEqualsIfExists":{"kms:RecipientAttestation:PCR8":"ab"},"StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "", "="},
		{"other condition is no substitute", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:EncryptionContext:app":"x"}}`), enclaveOK), "statement 0: kms:Decrypt", "="},
		{"Huawei's key binds too", doc(allowStmt(account, `"kms:*"`, ""), allowStmt(account, `"kms:Decrypt"`, `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation/PCR0":"ab"}}`)), "statement 0: kms:Decrypt", "="},

		// Principals.
		{"another principal unconditioned", doc(allowStmt(`{"AWS":"arn:aws:iam::111122223333:user/ci"}`, `"kms:Decrypt"`, ""), enclaveOK), "statement 0: kms:Decrypt", "="},
		{"multiple principals", doc(allowStmt(`{"AWS":["arn:aws:iam::111122223333:user/ci","arn:aws:iam::111122223333:user/ops"]}`, `"kms:GenerateDataKey"`, ""), enclaveOK), "statement 0: kms:GenerateDataKey", "="},
		{"star principal", doc(allowStmt(`"*"`, `"kms:GenerateDataKeyPair"`, ""), enclaveOK), "statement 0: kms:GenerateDataKeyPair", "="},
		{"service principal never calls", doc(allowStmt(`{"Service":"ec2.amazonaws.com"}`, `"kms:Decrypt"`, ""), enclaveOK), "", "="},
		{"another account", doc(allowStmt(`{"AWS":"444455556666"}`, `"kms:Decrypt"`, ""), enclaveOK), "", "statement 0: kms:Decrypt"},
		// The account's root ARN stands for every principal of the account:
		// NotPrincipal excludes them all, and leaves every other account.
		{"NotPrincipal the account", doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Decrypt"}`, enclaveOK), "", "statement 0: kms:Decrypt"},
		{"NotPrincipal a user", doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/ci"},"Action":"kms:Decrypt"}`, enclaveOK), "statement 0: kms:Decrypt", "="},

		// Deny overrides.
		{"deny all but the image", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, secretList, onAtt("StringNotEquals", `"ab"`))), "", "="},
		{"deny covers two of five", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `["kms:Decrypt","kms:GenerateDataKey"]`, onAtt("StringNotEquals", `"ab"`))), "statement 0: kms:DeriveSharedSecret", "="},
		{"deny with kms:*", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, onAtt("StringNotEquals", `"ab"`))), "", "="},
		{"deny if no evidence (Null) admits any image", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, onAtt("Null", `"true"`))), "statement 0: kms:Decrypt", "="},
		{"deny all but the format admits any image", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:Format":"nitro"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but the image or the signer", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"ab","kms:RecipientAttestation:PCR8":"ab"}}`)), "", "="},
		{"deny unless any value is the image (ForAnyValue fails without evidence)", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"ForAnyValue:StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but the image, IfExists", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)), "", "="},
		{"deny all but a pattern of images", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotLike":{"kms:RecipientAttestation:ImageSha384":"a?"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny all but a host's data", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:SnpHostData":"ab"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny the bad image only", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, onAtt("StringEquals", `"bad"`))), "statement 0: kms:Decrypt", "="},
		{"deny mixed with a transport condition", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"ab"},"Bool":{"aws:SecureTransport":"false"}}`)), "statement 0: kms:Decrypt", "="},
		{"deny one user, allow the account", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`{"AWS":"arn:aws:iam::111122223333:user/ci"}`, `"kms:*"`, onAtt("StringNotEquals", `"ab"`))), "statement 0: kms:Decrypt", "="},
		{"deny all but the admin", doc(allowStmt(account, `"kms:*"`, ""), `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Condition":`+onAtt("StringNotEquals", `"ab"`)+`}`), "statement 0: kms:Decrypt", "="},
		{"deny the account by root ARN", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`{"AWS":"arn:aws:iam::111122223333:root"}`, `"kms:*"`, onAtt("StringNotEquals", `"ab"`))), "", "statement 0: kms:Decrypt"},

		// Resources: the server knows the key, lint does not.
		{"allow on another key", doc(`{"Effect":"Allow","Principal":`+account+`,"Action":"kms:Decrypt","Resource":"`+otherKey+`"}`, enclaveOK), "", "statement 0: kms:Decrypt"},
		{"allow NotResource *", doc(`{"Effect":"Allow","Principal":`+account+`,"Action":"kms:Decrypt","NotResource":"*"}`, enclaveOK), "", "="},
		{"deny on another key", doc(allowStmt(account, `"kms:*"`, ""), `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"`+otherKey+`","Condition":`+onAtt("StringNotEquals", `"ab"`)+`}`), "statement 0: kms:Decrypt", "="},
		{"deny on this key", doc(allowStmt(account, `"kms:*"`, ""), `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"`+keyARN+`","Condition":`+onAtt("StringNotEquals", `"ab"`)+`}`), "", "statement 0: kms:Decrypt"},
	}
	if len(tests) < 30 {
		t.Fatalf("%d policies; the issue asks for at least 30", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.policy)
			got := first(p.CheckAttestationSafety(acct, keyARN))
			if got != tt.want {
				t.Errorf("server check: got %q, want %q", got, tt.want)
			}
			wantLint := tt.want
			if tt.lint != "=" {
				wantLint = tt.lint
			}
			if got := first(p.CheckAttestationSafety("", "")); got != wantLint {
				t.Errorf("lint check: got %q, want %q", got, wantLint)
			}
			// Sound: an accepted policy allows no secret action to any
			// caller who sends no evidence, whatever else the request says.
			if got == "" && p.AttestationBound() {
				if leak := unattestedLeak(p, acct, keyARN); leak != "" {
					t.Errorf("accepted, yet Evaluate allows %s", leak)
				}
			}
		})
	}
}

// first formats a check's first finding as "statement N: action".
func first(fs []Finding) string {
	if len(fs) == 0 {
		return ""
	}
	name, _, _ := strings.Cut(fs[0].Statement, " (")
	return name + ": " + fs[0].Action
}

// unattestedContexts are contexts without measurements, some of them
// meeting the conditions the tests write on other keys.
func unattestedContexts() []map[string][]string {
	return []map[string][]string{
		nil,
		{"kms:EncryptionContext:app": {"x"}, "kms:EncryptionContextKeys": {"app"}},
		{"aws:SecureTransport": {"false"}, "aws:SourceIp": {"10.0.0.1"}},
		{"aws:SecureTransport": {"true"}, "aws:SourceIp": {"127.0.0.1"}},
	}
}

// foreignContexts are requests with genuine evidence of a workload no
// policy of the tests names: every image key (imageKeys) of its format is
// "f0", while the fields the attacker's enclave or host chooses (Format, the
// host's data, the registers its own software extends, the platform's) take
// each value the tests' policies use.
func foreignContexts() []map[string][]string {
	var out []map[string][]string
	for _, v := range []string{"ab", "x"} {
		nitro := map[string][]string{"kms:RecipientAttestation:Format": {"nitro"}}
		qingtian := map[string][]string{"kms:RecipientAttestation:Format": {"qingtian"}}
		nitroTPM := map[string][]string{"kms:RecipientAttestation:Format": {"nitrotpm"}}
		for i := 0; i < 32; i++ {
			n := strconv.Itoa(i)
			nitro["kms:RecipientAttestation:PCR"+n] = []string{v}
			qingtian["kms:RecipientAttestation/PCR"+n] = []string{v}
			if i < 24 {
				nitroTPM["kms:RecipientAttestation:NitroTPMPCR"+n] = []string{v}
			}
		}
		nitro["kms:RecipientAttestation:ImageSha384"] = []string{v}
		tpm := map[string][]string{"kms:RecipientAttestation:Format": {"tpm2"}, "kms:RecipientAttestation:TpmPCR0": {v}, "kms:RecipientAttestation:TpmPCR4": {v},
			"kms:RecipientAttestation:TpmPCR7": {v}, "kms:RecipientAttestation:TpmPCR23": {v}}
		snp := map[string][]string{"kms:RecipientAttestation:Format": {"sev-snp"}, "kms:RecipientAttestation:SnpMeasurement": {v}, "kms:RecipientAttestation:SnpHostData": {v}}
		tdx := map[string][]string{"kms:RecipientAttestation:Format": {"tdx"}, "kms:RecipientAttestation:TdxMrTd": {v}, "kms:RecipientAttestation:TdxMrConfigId": {v},
			"kms:RecipientAttestation:TdxTcbStatus": {"UpToDate"}, "kms:RecipientAttestation:TdxRtmr0": {v}, "kms:RecipientAttestation:TdxRtmr3": {v}}
		for _, m := range []map[string][]string{nitro, qingtian, nitroTPM, tpm, snp, tdx} {
			for k := range m {
				if _, ok := imageKeys[k]; ok {
					m[k] = []string{"f0"}
				}
			}
			out = append(out, m)
		}
		// The fewest registers a genuine Nitro or Qingtian document that is
		// not of a debug-mode enclave holds: PCR0 alone (attest/nitro
		// requires no other).
		for _, m := range []map[string][]string{nitro, qingtian} {
			few := map[string][]string{}
			for k, v := range m {
				if k == "kms:RecipientAttestation:Format" || k == "kms:RecipientAttestation:ImageSha384" || strings.HasSuffix(k, "PCR0") {
					few[k] = v
				}
			}
			out = append(out, few)
		}
		// An image of the attacker's own kernel and /init before the
		// genuine application's ramdisks: the genuine PCR2, its own PCR0
		// and PCR1.
		for m, k := range map[*map[string][]string]string{&nitro: "kms:RecipientAttestation:", &qingtian: "kms:RecipientAttestation/"} {
			app := maps.Clone(*m)
			app[k+"PCR2"], app[k+"PCR1"] = []string{v}, []string{"f1"}
			out = append(out, app)
		}
		// An unsigned image: its PCR8 is zero (so is a TPM's PCR4 before
		// a boot manager ran), whatever the image.
		for m, k := range map[*map[string][]string]string{&nitro: "kms:RecipientAttestation:PCR8", &qingtian: "kms:RecipientAttestation/PCR8", &tpm: "kms:RecipientAttestation:TpmPCR4"} {
			unsigned := maps.Clone(*m)
			unsigned[k] = []string{"00"}
			out = append(out, unsigned)
		}
	}
	return out
}

// unattestedLeak asks Evaluate itself whether some caller without evidence,
// or with evidence of a workload the policy does not name
// (foreignContexts), is allowed a secret action on resource, and names the
// first such request.
func unattestedLeak(p *Policy, account, resource string) string {
	callers := []string{
		"arn:aws:iam::" + account + ":root", "arn:aws:iam::" + account + ":user/alice",
		"arn:aws:iam::" + account + ":user/ci", "arn:aws:iam::" + account + ":user/ops", "arn:aws:iam::" + account + ":user/admin",
	}
	for _, c := range callers {
		for _, a := range SecretActions {
			for _, ctx := range unattestedContexts() {
				if p.Evaluate(&Request{Principal: c, Account: account, Action: a, Resource: resource, Context: ctx}) == Allow {
					return a + " to " + c
				}
			}
			for _, ctx := range foreignContexts() {
				if p.Evaluate(&Request{Principal: c, Account: account, Action: a, Resource: resource, Context: ctx}) == Allow {
					return a + " to " + c + " with " + ctx["kms:RecipientAttestation:Format"][0] + " evidence of another workload"
				}
			}
		}
	}
	return ""
}

func TestSafetyFindingText(t *testing.T) {
	p := mustParse(t, doc(`{"Sid":"manage","Effect":"Allow","Principal":`+account+`,"NotAction":["kms:Decrypt","kms:GenerateDataKey"]}`, enclaveOK))
	fs := p.CheckAttestationSafety(acct, keyARN)
	var actions []string
	for _, f := range fs {
		actions = append(actions, f.Action)
		if f.Severity != SeverityError || f.Statement != `statement 0 (Sid "manage")` {
			t.Errorf("finding %+v", f)
		}
	}
	if strings.Join(actions, " ") != "kms:DeriveSharedSecret kms:GenerateDataKeyPair kms:ReEncryptFrom" {
		t.Errorf("actions %v", actions)
	}
	want := `allows kms:ReEncryptFrom (through NotAction) to arn:aws:iam::111122223333:root without a verified Recipient: ` +
		`it has no condition on a kms:RecipientAttestation measurement, while statement 1 (Sid "enclave") conditions on attestation`
	if fs[2].Reason != want {
		t.Errorf("reason\n  %s\nwant\n  %s", fs[2].Reason, want)
	}
	if got := fs[2].String(); got != "error\tstatement 0 (Sid \"manage\")\tkms:ReEncryptFrom\t"+want {
		t.Errorf("String() = %q", got)
	}
	p = mustParse(t, doc(allowStmt(`"*"`, `"kms:*"`, ""), allowStmt(account, `"kms:Decrypt"`, `{"StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"ab"}}`)))
	fs = p.CheckAttestationSafety(acct, keyARN)
	if !strings.Contains(fs[0].Reason, `(through "kms:*") to arn:aws:iam::111122223333:root`) {
		t.Errorf("reason %q", fs[0].Reason)
	}
	last := fs[len(fs)-1]
	if last.Statement != "statement 1" || !strings.Contains(last.Reason, "its measurement conditions (StringEqualsIfExists on kms:RecipientAttestation:ImageSha384) hold when the request carries no evidence") {
		t.Errorf("last finding %+v", last)
	}
	for _, f := range fs {
		if strings.Contains(f.String(), `"ab"`) {
			t.Errorf("a finding echoes a condition value: %s", f)
		}
	}
}

// worstCase is a 32 KiB attestation-bound policy built to make the safety
// check compare as many principals as it can: hundreds of named users, each
// a class of caller, against Deny statements naming them all.
func worstCase(tb testing.TB) *Policy {
	var principals []string
	for i := 0; ; i++ {
		p := `"arn:aws:iam::111122223333:user/` + itoa(i%100) + strings.Repeat("x", i/100) + `"`
		if len(principals)*len(p) > 14<<10 {
			break
		}
		principals = append(principals, p)
	}
	list := `{"AWS":[` + strings.Join(principals, ",") + `]}`
	d := doc(allowStmt(`"*"`, `"kms:*"`, ""),
		denyStmt(list, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}`),
		denyStmt(list, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"ab"},"Bool":{"aws:SecureTransport":"false"}}`))
	if len(d) > maxDocument {
		tb.Fatalf("the worst case is %d bytes, over the limit", len(d))
	}
	return mustParse(tb, d)
}

// A policy whose analysis exceeds the budget is refused, not passed; the
// worst document the size limit allows stays within it.
func TestSafetyBudget(t *testing.T) {
	p := worstCase(t)
	fs := p.CheckAttestationSafety(acct, keyARN)
	if len(fs) == 0 || strings.Contains(fs[0].Reason, "too large") {
		t.Fatalf("the worst case within the limits: %v", fs)
	}
	defer func(n int) { analysisSteps = n }(analysisSteps)
	analysisSteps = 1000
	fs = p.CheckAttestationSafety(acct, keyARN)
	if len(fs) != 1 || fs[0].Severity != SeverityError || !strings.Contains(fs[0].Reason, "too large for the attestation safety check") {
		t.Fatalf("over the budget: %v", fs)
	}
}

func BenchmarkSafetyWorstCase(b *testing.B) {
	p := worstCase(b)
	for b.Loop() {
		p.CheckAttestationSafety(acct, keyARN)
	}
}

func BenchmarkSafetyReadmePolicy(b *testing.B) {
	p := mustParse(b, doc(allowStmt(account, adminActions, ""), enclaveOK))
	for b.Loop() {
		p.CheckAttestationSafety(acct, keyARN)
	}
}

package policy

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	readme := doc(`{"Sid":"manage","Effect":"Allow","Principal":`+account+`,"Action":`+adminActions+`}`,
		`{"Sid":"enclave","Effect":"Allow","Principal":`+account+`,"Action":["kms:Decrypt","kms:GenerateDataKey"],`+
			`"Condition":{"StringEquals":{"kms:RecipientAttestation:Format":"nitro","kms:RecipientAttestation:ImageSha384":"ab"}}}`)
	tests := []struct {
		name   string
		policy string
		want   []string // each finding's String(), in order, with the reason cut to a prefix
	}{
		{"clean", readme, nil},
		{"default policy", defaultPolicy, nil},
		{"old README policy", doc(`{"Sid":"manage","Effect":"Allow","Principal":`+account+`,"NotAction":["kms:Decrypt","kms:GenerateDataKey"]}`, enclaveOK), []string{
			"error\tstatement 0 (Sid \"manage\")\tkms:DeriveSharedSecret\tallows kms:DeriveSharedSecret (through NotAction) to arn:aws:iam::111122223333:root",
			"error\tstatement 0 (Sid \"manage\")\tkms:GenerateDataKeyPair\t",
			"error\tstatement 0 (Sid \"manage\")\tkms:ReEncryptFrom\t",
			"warning\tstatement 1 (Sid \"enclave\")\t-\tconditions on the Nitro measurement kms:RecipientAttestation:ImageSha384 without one on kms:RecipientAttestation:Format",
		}},
		{"allow to star", doc(allowStmt(`"*"`, `"kms:Encrypt"`, "")), []string{
			"warning\tstatement 0\t-\tallows every principal (\"*\")",
		}},
		{"allow to AWS star", doc(allowStmt(`{"AWS":"*"}`, `"kms:Encrypt"`, "")), []string{
			"warning\tstatement 0\t-\tallows every principal (\"*\")",
		}},
		{"deny to star is fine", doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:Encrypt"`, "")), nil},
		{"allow NotPrincipal", doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/x"},"Action":"kms:Encrypt"}`), []string{
			"warning\tstatement 0\t-\tallows every principal not listed in NotPrincipal",
		}},
		{"deny with StringEquals", doc(allowStmt(account, adminActions, ""), enclaveOKWithFormat,
			denyStmt(`"*"`, `"kms:*"`, `{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"bad"}}`)), []string{
			"warning\tstatement 2\t-\tStringEquals on kms:RecipientAttestation:ImageSha384 in a Deny does not apply to a caller who sends no Recipient",
		}},
		{"deny with StringNotEquals is fine", doc(allowStmt(account, adminActions, ""), enclaveOKWithFormat,
			denyStmt(`"*"`, `"kms:*"`, `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"good"}}`)), nil},
		{"PCR without Format", doc(allowStmt(account, adminActions, ""), allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR8":"ab"}}`)), []string{
			"warning\tstatement 1\t-\tconditions on the Nitro measurement kms:RecipientAttestation:PCR8 without one on kms:RecipientAttestation:Format",
		}},
		{"Format that does not require is no Format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:PCR0":"ab"},"StringNotEquals":{"kms:RecipientAttestation:Format":"tpm2"}}`)), []string{
			"warning\tstatement 0\t-\tconditions on the Nitro measurement kms:RecipientAttestation:PCR0",
		}},
		{"SNP needs no Format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEquals":{"kms:RecipientAttestation:SnpMeasurement":"ab"}}`)), nil},
		{"Qingtian needs no Format", doc(allowStmt(account, `"kms:Decrypt"`, `{"StringEqualsIgnoreCase":{"kms:RecipientAttestation/PCR0":"ab"}}`)), nil},
		{"another account's key", doc(allowStmt(`{"AWS":"444455556666"}`, `"kms:Decrypt"`, ""), enclaveOKWithFormat), []string{
			"error\tstatement 0\tkms:Decrypt\tallows kms:Decrypt to arn:aws:iam::444455556666:root",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.policy).Lint()
			if len(got) != len(tt.want) {
				t.Fatalf("%d findings, want %d:\n%s", len(got), len(tt.want), findings(got))
			}
			for i, f := range got {
				if !strings.HasPrefix(f.String(), tt.want[i]) {
					t.Errorf("finding %d\n  %s\nwant a prefix\n  %s", i, f, tt.want[i])
				}
			}
		})
	}
}

const enclaveOKWithFormat = `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["kms:Decrypt","kms:GenerateDataKey"],` +
	`"Condition":{"StringEquals":{"kms:RecipientAttestation:Format":"nitro","kms:RecipientAttestation:ImageSha384":"ab"}}}`

func findings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

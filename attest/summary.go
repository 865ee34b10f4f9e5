package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/attestkms/attestkms/internal/jsonappend"
)

// Summary is what an audit log records of verified evidence: enough to tell
// which enclave got which secret, nothing secret. Its JSON encoding is the
// "attestation" of attestkms's audit records, so its field names and
// encoding do not change: each format adds fields, under names of its own.
type Summary struct {
	Format          string         `json:"format"`
	ModuleID        string         `json:"module_id,omitempty"`
	PCR0            string         `json:"pcr0,omitempty"`
	SnpMeasurement  string         `json:"snp_measurement,omitempty"`
	SnpChipID       string         `json:"snp_chip_id,omitempty"`
	TpmBank         string         `json:"tpm_bank,omitempty"`
	TpmPCRs         map[int]string `json:"tpm_pcrs,omitempty"`
	TdxMrTd         string         `json:"tdx_mrtd,omitempty"`
	TdxTcbStatus    string         `json:"tdx_tcb_status,omitempty"`    // the platform's; the policy key is the worse
	TdxQeTcbStatus  string         `json:"tdx_qe_tcb_status,omitempty"` // of this and the quoting enclave's
	Nonce           string         `json:"nonce,omitempty"`
	PublicKeySHA256 string         `json:"public_key_sha256"`
	Time            time.Time      `json:"time,omitzero"`
	Debug           bool           `json:"debug,omitempty"`
	// NitroTPMPCRs: an AWS NitroTPM document's registers, index -> hex.
	NitroTPMPCRs map[int]string `json:"nitrotpm_pcrs,omitempty"`
	// KeyEncryptionAlgorithm is the Recipient's (RSAES_OAEP_SHA_256 or an
	// HPKE suite): not a claim of the evidence, set by kms beside them so
	// that a line says how the secret left.
	KeyEncryptionAlgorithm string `json:"key_encryption_algorithm,omitempty"`
}

// Summary summarises c for an audit log: its format, the measurements that
// identify the workload (a Nitro or Qingtian image's PCR0, an SEV-SNP
// guest's MEASUREMENT and CHIP_ID, a TPM's bank and PCRs, a TD's MRTD and
// the TCB statuses of its platform and of its quoting enclave, both, since
// kms:RecipientAttestation:TdxTcbStatus is the worse of them), the SHA-256 of
// the enclave's public key, the nonce, the evidence time and Debug. User
// data may be anything, so it is left out.
func (c *Claims) Summary() *Summary {
	fp := sha256.Sum256(c.PublicKeyDER)
	sum := &Summary{
		Format: string(c.Format), ModuleID: c.ModuleID, PublicKeySHA256: hex.EncodeToString(fp[:]),
		Time: c.Time.UTC(), Debug: c.Debug,
	}
	if pcr0, ok := c.PCRs[0]; ok {
		sum.PCR0 = hex.EncodeToString(pcr0)
	}
	if c.SNP != nil {
		sum.SnpMeasurement = hex.EncodeToString(c.SNP.Measurement)
		sum.SnpChipID = hex.EncodeToString(c.SNP.ChipID)
	}
	if c.TPM != nil {
		sum.TpmBank = c.TPM.Bank
		sum.TpmPCRs = make(map[int]string, len(c.TPM.PCRs))
		for i, v := range c.TPM.PCRs {
			sum.TpmPCRs[i] = hex.EncodeToString(v)
		}
	}
	if c.TDX != nil {
		sum.TdxMrTd = hex.EncodeToString(c.TDX.MRTD)
		sum.TdxTcbStatus = c.TDX.TCBStatus
		sum.TdxQeTcbStatus = c.TDX.QETCBStatus
	}
	if c.NitroTPMPCRs != nil {
		sum.NitroTPMPCRs = make(map[int]string, len(c.NitroTPMPCRs))
		for i, v := range c.NitroTPMPCRs {
			sum.NitroTPMPCRs[i] = hex.EncodeToString(v)
		}
	}
	if c.Nonce != nil {
		// The nonce is the enclave's, public, and what ties a request to its
		// evidence in the log.
		sum.Nonce = hex.EncodeToString(c.Nonce)
	}
	return sum
}

// AppendJSON appends s as json.Marshal writes it, without reflection (an
// audit line of every attested request carries one): member by member in
// the struct's order, with jsonappend's strings; a summary with TPM
// registers (maps, whose keys encoding/json sorts) goes through
// encoding/json whole. kms/audit's TestMarshalRecordIsJSONMarshal holds it
// to json.Marshal, every field set.
func (s *Summary) AppendJSON(b []byte) ([]byte, error) {
	if len(s.TpmPCRs) > 0 || len(s.NitroTPMPCRs) > 0 {
		q, err := json.Marshal(s)
		return append(b, q...), err
	}
	b = append(b, `{"format":`...)
	b = jsonappend.String(b, s.Format)
	b = jsonappend.Member(b, "module_id", s.ModuleID, true)
	b = jsonappend.Member(b, "pcr0", s.PCR0, true)
	b = jsonappend.Member(b, "snp_measurement", s.SnpMeasurement, true)
	b = jsonappend.Member(b, "snp_chip_id", s.SnpChipID, true)
	b = jsonappend.Member(b, "tpm_bank", s.TpmBank, true)
	b = jsonappend.Member(b, "tdx_mrtd", s.TdxMrTd, true)
	b = jsonappend.Member(b, "tdx_tcb_status", s.TdxTcbStatus, true)
	b = jsonappend.Member(b, "tdx_qe_tcb_status", s.TdxQeTcbStatus, true)
	b = jsonappend.Member(b, "nonce", s.Nonce, true)
	b = jsonappend.Member(b, "public_key_sha256", s.PublicKeySHA256, false)
	if !s.Time.IsZero() {
		b = append(b, `,"time":"`...)
		var err error
		if b, err = s.Time.AppendText(b); err != nil {
			return nil, err
		}
		b = append(b, '"')
	}
	if s.Debug {
		b = append(b, `,"debug":true`...)
	}
	b = jsonappend.Member(b, "key_encryption_algorithm", s.KeyEncryptionAlgorithm, true)
	return append(b, '}'), nil
}

package audit

import (
	"encoding/json"
	"strconv"
	"time"
)

// marshalRecord is json.Marshal(rec), byte for byte, without reflection:
// every key use writes one record, and encoding/json's reflection and
// validation of it cost about 2.5 µs of a GenerateDataKey's 65 in the
// server's profile. Each member is written in the struct's order with its
// tag's name and omitempty rule, the attestation summary's too
// (appendAttestation); a string that needs escaping, a summary with TPM
// registers and the failure summaries' members go through encoding/json
// itself, so the escaping is always its own. TestMarshalRecordIsJSONMarshal
// compares the two on records of every shape (and FuzzMarshalRecord on
// arbitrary strings): a field added to Record or attest.Summary without a
// line here fails it.
func marshalRecord(rec *Record) ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, `{"time":"`...)
	b, err := rec.Time.AppendText(b)
	if err != nil {
		return json.Marshal(rec) // its error, in its words
	}
	b = append(b, '"')
	b = appendMember(b, "request_id", rec.RequestID, false)
	b = appendMember(b, "access_key_id", rec.AccessKeyID, true)
	b = appendMember(b, "principal", rec.Principal, true)
	b = appendMember(b, "source_ip", rec.SourceIP, true)
	b = appendMember(b, "dialect", rec.Dialect, false)
	b = appendMember(b, "operation", rec.Operation, false)
	b = appendMember(b, "key_arn", rec.KeyARN, true)
	b = appendMember(b, "source_key_arn", rec.SourceKeyARN, true)
	if rec.Attestation != nil {
		if b, err = appendAttestation(b, rec.Attestation); err != nil {
			return nil, err
		}
	}
	if len(rec.BypassedChecks) > 0 {
		if b, err = appendJSON(b, "bypassed_checks", rec.BypassedChecks); err != nil {
			return nil, err
		}
	}
	b = appendMember(b, "outcome", rec.Outcome, false)
	b = appendMember(b, "error_code", rec.ErrorCode, true)
	b = appendMember(b, "message", rec.Message, true)
	b = appendMember(b, "credential", rec.Credential, true)
	if rec.Count != 0 {
		b = strconv.AppendInt(append(b, `,"count":`...), int64(rec.Count), 10)
	}
	for _, m := range []struct {
		name string
		t    *time.Time
	}{{"first", rec.First}, {"last", rec.Last}} {
		if m.t != nil {
			if b, err = appendJSON(b, m.name, m.t); err != nil {
				return nil, err
			}
		}
	}
	if len(rec.Dialects) > 0 {
		if b, err = appendJSON(b, "dialects", rec.Dialects); err != nil {
			return nil, err
		}
	}
	if len(rec.Reasons) > 0 {
		if b, err = appendJSON(b, "reasons", rec.Reasons); err != nil {
			return nil, err
		}
	}
	if rec.Change {
		b = append(b, `,"change":true`...)
	}
	for _, m := range []struct {
		name string
		v    uint64
	}{{"voids", rec.Voids}, {"reinstates", rec.Reinstates}} {
		if m.v != 0 {
			b = strconv.AppendUint(append(append(append(b, `,"`...), m.name...), `":`...), m.v, 10)
		}
	}
	b = appendMember(b, "anchor", rec.Anchor, true)
	if rec.Seq != 0 {
		b = strconv.AppendUint(append(b, `,"seq":`...), rec.Seq, 10)
	}
	b = appendMember(b, "prev", rec.Prev, true)
	return append(b, '}'), nil
}

// appendAttestation appends ,"attestation": and a as encoding/json writes
// it, the same way as marshalRecord: member by member in attest.Summary's
// order; a summary with TPM registers (maps, whose keys encoding/json
// sorts) goes through encoding/json whole.
func appendAttestation(b []byte, a *Attestation) ([]byte, error) {
	if len(a.TpmPCRs) > 0 || len(a.NitroTPMPCRs) > 0 {
		return appendJSON(b, "attestation", a)
	}
	b = append(b, `,"attestation":{"format":`...)
	b = appendString(b, a.Format)
	b = appendMember(b, "module_id", a.ModuleID, true)
	b = appendMember(b, "pcr0", a.PCR0, true)
	b = appendMember(b, "snp_measurement", a.SnpMeasurement, true)
	b = appendMember(b, "snp_chip_id", a.SnpChipID, true)
	b = appendMember(b, "tpm_bank", a.TpmBank, true)
	b = appendMember(b, "tdx_mrtd", a.TdxMrTd, true)
	b = appendMember(b, "tdx_tcb_status", a.TdxTcbStatus, true)
	b = appendMember(b, "tdx_qe_tcb_status", a.TdxQeTcbStatus, true)
	b = appendMember(b, "nonce", a.Nonce, true)
	b = appendMember(b, "public_key_sha256", a.PublicKeySHA256, false)
	if !a.Time.IsZero() {
		b = append(b, `,"time":"`...)
		var err error
		if b, err = a.Time.AppendText(b); err != nil {
			return nil, err
		}
		b = append(b, '"')
	}
	if a.Debug {
		b = append(b, `,"debug":true`...)
	}
	b = appendMember(b, "key_encryption_algorithm", a.KeyEncryptionAlgorithm, true)
	return append(b, '}'), nil
}

// appendMember appends ,"name":"v" (nothing for an empty v if omitEmpty).
func appendMember(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return appendString(b, v)
}

// appendString appends v as encoding/json writes it: as it is when every
// byte is printable ASCII that JSON and encoding/json's HTML escaping leave
// alone, else through encoding/json.
func appendString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// appendJSON appends ,"name": and v as encoding/json writes it.
func appendJSON(b []byte, name string, v any) ([]byte, error) {
	q, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return append(b, q...), nil
}

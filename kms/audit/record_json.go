package audit

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/attestkms/attestkms/internal/jsonappend"
)

// marshalRecord is json.Marshal(rec), byte for byte, without reflection:
// every key use writes one record, and encoding/json's reflection and
// validation of it cost about 2.5 µs of a GenerateDataKey's 65 in the
// server's profile. Each member is written in the struct's order with its
// tag's name and omitempty rule, the attestation summary's too
// (attest.Summary.AppendJSON); a string that needs escaping, a summary with TPM
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
	b = jsonappend.Member(b, "request_id", rec.RequestID, false)
	b = jsonappend.Member(b, "access_key_id", rec.AccessKeyID, true)
	b = jsonappend.Member(b, "principal", rec.Principal, true)
	b = jsonappend.Member(b, "source_ip", rec.SourceIP, true)
	b = jsonappend.Member(b, "dialect", rec.Dialect, false)
	b = jsonappend.Member(b, "operation", rec.Operation, false)
	b = jsonappend.Member(b, "key_arn", rec.KeyARN, true)
	b = jsonappend.Member(b, "source_key_arn", rec.SourceKeyARN, true)
	if rec.Attestation != nil {
		if b, err = rec.Attestation.AppendJSON(append(b, `,"attestation":`...)); err != nil {
			return json.Marshal(rec) // its error, in its words
		}
	}
	if len(rec.BypassedChecks) > 0 {
		if b, err = appendJSON(b, "bypassed_checks", rec.BypassedChecks); err != nil {
			return nil, err
		}
	}
	b = jsonappend.Member(b, "outcome", rec.Outcome, false)
	b = jsonappend.Member(b, "error_code", rec.ErrorCode, true)
	b = jsonappend.Member(b, "message", rec.Message, true)
	b = jsonappend.Member(b, "credential", rec.Credential, true)
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
	if rec.Sources != 0 {
		b = strconv.AppendInt(append(b, `,"sources":`...), int64(rec.Sources), 10)
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
	b = jsonappend.Member(b, "anchor", rec.Anchor, true)
	if rec.Seq != 0 {
		b = strconv.AppendUint(append(b, `,"seq":`...), rec.Seq, 10)
	}
	b = jsonappend.Member(b, "prev", rec.Prev, true)
	return append(b, '}'), nil
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

package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// TestMarshalRecordIsJSONMarshal: marshalRecord writes what json.Marshal
// writes, for records of every shape. A field added to Record without its
// line in marshalRecord fails here (every field is set in some record).
func TestMarshalRecordIsJSONMarshal(t *testing.T) {
	strs := []string{"", "a", "arn:aws:kms:us-east-1:123456789012:key/0b7c", "<script>&", "quote\" back\\slash",
		"ctl\x00\x1f\x7f", "é ✓ \u2028\u2029", "bad \xff\xfe utf-8", "tab\there"}
	now := time.Date(2026, 12, 7, 13, 4, 5, 123456789, time.UTC)
	first, last := now.Add(-time.Minute), now.In(time.FixedZone("x", 3600))
	r := rand.New(rand.NewPCG(1, 2))
	s := func() string { return strs[r.IntN(len(strs))] }
	set := map[string]bool{}
	for i := range 4000 {
		rec := &Record{Time: now.Add(time.Duration(i) * time.Millisecond), RequestID: s(), AccessKeyID: s(), Principal: s(),
			SourceIP: s(), Dialect: s(), Operation: s(), KeyARN: s(), SourceKeyARN: s(), Outcome: s(), ErrorCode: s(),
			Message: s(), Credential: s(), Anchor: s(), Prev: s()}
		if i%3 == 0 {
			rec.Time = now.In(time.FixedZone("y", -7*3600))
		}
		if r.IntN(2) == 0 {
			a := &attest.Summary{Format: s(), ModuleID: s(), PCR0: s(), SnpMeasurement: s(), SnpChipID: s(), TpmBank: s(),
				TdxMrTd: s(), TdxTcbStatus: s(), TdxQeTcbStatus: s(), Nonce: s(), PublicKeySHA256: s(), Debug: r.IntN(2) == 0,
				KeyEncryptionAlgorithm: s()}
			switch r.IntN(4) {
			case 0:
				a.TpmPCRs = map[int]string{0: s(), 10: s()}
			case 1:
				a.NitroTPMPCRs = map[int]string{4: s(), 23: s()}
			}
			switch r.IntN(3) {
			case 0:
				a.Time = now
			case 1:
				a.Time = now.In(time.FixedZone("z", 5400))
			}
			rec.Attestation = a
			sv := reflect.ValueOf(a).Elem()
			for f := range sv.NumField() {
				if !sv.Field(f).IsZero() {
					set["Attestation."+sv.Type().Field(f).Name] = true
				}
			}
		}
		if r.IntN(2) == 0 {
			rec.BypassedChecks = []string{s(), s()}
		}
		if r.IntN(2) == 0 {
			rec.Count, rec.Sources, rec.First, rec.Last = r.IntN(1000)-10, r.IntN(3), &first, &last
			rec.Dialects, rec.Reasons = []string{s()}, map[string]int{s(): 3, "z": 1}
		}
		rec.Change = r.IntN(2) == 0
		if r.IntN(2) == 0 {
			rec.Voids, rec.Reinstates, rec.Seq = r.Uint64(), uint64(r.IntN(3)), r.Uint64()>>r.IntN(64)
		}
		want, werr := json.Marshal(rec)
		got, gerr := marshalRecord(rec)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
		v := reflect.ValueOf(rec).Elem()
		for f := range v.NumField() {
			if !v.Field(f).IsZero() {
				set[v.Type().Field(f).Name] = true
			}
		}
	}
	for f := range reflect.TypeFor[Record]().NumField() {
		if name := reflect.TypeFor[Record]().Field(f).Name; !set[name] {
			t.Errorf("no record sets Record.%s: the comparison does not cover it", name)
		}
	}
	for f := range reflect.TypeFor[attest.Summary]().NumField() {
		if name := reflect.TypeFor[attest.Summary]().Field(f).Name; !set["Attestation."+name] {
			t.Errorf("no record sets Attestation.%s: the comparison does not cover it", name)
		}
	}
	// A time encoding/json refuses is refused the same way.
	if _, err := marshalRecord(&Record{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a year past 9999 was marshalled")
	}
	bad := &Record{Time: now, Attestation: &attest.Summary{Format: "nitro", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	_, werr := json.Marshal(bad)
	if _, err := marshalRecord(bad); err == nil || werr == nil || err.Error() != werr.Error() {
		t.Errorf("an attestation time past 9999: %v; json.Marshal: %v", err, werr)
	}
}

// FuzzMarshalRecord compares marshalRecord with json.Marshal on arbitrary
// strings in every string member.
func FuzzMarshalRecord(f *testing.F) {
	f.Add("r", "arn", "msg <&>\u2028", "\xff")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		rec := &Record{Time: time.Unix(1e9, 5), RequestID: a, AccessKeyID: b, Principal: c, SourceIP: d, Dialect: a,
			Operation: b, KeyARN: c, SourceKeyARN: d, Outcome: a, ErrorCode: b, Message: c, Credential: d, Anchor: a, Prev: b,
			BypassedChecks: []string{c}}
		want, _ := json.Marshal(rec)
		got, err := marshalRecord(rec)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %s (%v)\nwant %s", got, err, want)
		}
	})
}

func BenchmarkMarshalRecord(b *testing.B) {
	rec := &Record{Time: time.Now().UTC(), RequestID: "7f4a3c1e-5d2b-4e8f-9a6c-1b2d3e4f5a6b", AccessKeyID: "AKIAEXAMPLE0123456789",
		Principal: "arn:aws:iam::123456789012:user/ci", SourceIP: "127.0.0.1", Dialect: "aws", Operation: "GenerateDataKey",
		KeyARN: "arn:aws:kms:us-east-1:123456789012:key/0b7c4e2a-1f3d-4c5b-8a9e-6d7f8e9a0b1c", Outcome: OK}
	for _, impl := range []struct {
		name string
		f    func(*Record) ([]byte, error)
	}{{"json.Marshal", func(r *Record) ([]byte, error) { return json.Marshal(r) }}, {"marshalRecord", marshalRecord}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				impl.f(rec)
			}
		})
	}
}

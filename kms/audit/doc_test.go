package audit

import (
	"encoding"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// docPath is the auditor's reference to the line format, which must name
// every JSON field a line can hold.
const docPath = "../../docs/audit.md"

// TestDocMentionsEveryField fails when a JSON field of Record, or of a
// struct nested in it (the evidence summary, Attestation), has no row in
// docs/audit.md's tables, or an operation name or value of the log's own
// lines is not named there: a field added to the line must be documented for
// the auditor who reads it.
func TestDocMentionsEveryField(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	fields := jsonFields(reflect.TypeFor[Record](), "", map[reflect.Type]bool{})
	if len(fields) < 30 {
		t.Fatalf("found only %d JSON fields in Record: the walk is broken", len(fields))
	}
	for _, f := range fields {
		// A row of one of the field tables: | `name` | type | … |
		if !strings.Contains(doc, "\n| `"+f.name+"` |") {
			t.Errorf("%s: the JSON field %q (%s) has no row in %s's tables (a line starting \"| `%s` |\")", f.path, f.name, f.typ, docPath, f.name)
		}
	}
	for _, op := range []string{opStart, opOpen, opRotate, opReopen, opRecovered, opAuthFailures, opThrottled, dialectLog, otherSources, OK, Error} {
		if !strings.Contains(doc, "`"+op+"`") {
			t.Errorf("the log's value %q is not named in %s as `%s`", op, docPath, op)
		}
	}
}

// TestDocExamplesAreRecords: every example line in docs/audit.md (its json
// blocks) decodes as a chained Record with no field Record lacks, so that the
// examples follow a renamed or removed field.
func TestDocExamplesAreRecords(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	n, in := 0, false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "```json":
			in = true
			continue
		case strings.HasPrefix(line, "```"):
			in = false
			continue
		case !in:
			continue
		}
		n++
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var rec Record
		if err := dec.Decode(&rec); err != nil {
			t.Errorf("%s:%d: not a Record: %v", docPath, i+1, err)
			continue
		}
		if _, ok := chained([]byte(line)); !ok {
			t.Errorf("%s:%d: no seq and prev", docPath, i+1)
		}
	}
	if n < 8 {
		t.Fatalf("found %d example lines in %s, want at least 8", n, docPath)
	}
}

type jsonField struct {
	name, path string
	typ        reflect.Type
}

// jsonFields lists the JSON fields of struct type t and of the structs its
// fields hold (through pointers, slices and maps), but for types that encode
// themselves (time.Time).
func jsonFields(t reflect.Type, path string, seen map[reflect.Type]bool) []jsonField {
	if seen[t] {
		return nil
	}
	seen[t] = true
	var out []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		p := path + sf.Name
		out = append(out, jsonField{name: name, path: p, typ: sf.Type})
		if inner := structOf(sf.Type); inner != nil {
			out = append(out, jsonFields(inner, p+".", seen)...)
		}
	}
	return out
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// structOf is the struct type t holds whose fields JSON encodes one by one,
// nil if none.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return nil
	}
	return t
}

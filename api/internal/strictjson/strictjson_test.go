package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

type req struct {
	Name   string
	N      *int32
	F      float64
	Nested *struct{ A string }
}

// TestDecode walks each kind under the options each dialect uses: the Kind
// and the message, which names the member at fault.
func TestDecode(t *testing.T) {
	loose := Options{Integer: "a number"}
	exact := Options{Exact: true, Integer: "an integer", FractionIsType: true}
	for _, tc := range []struct {
		o    Options
		body string
		kind Kind
		msg  string
	}{
		{loose, ``, 0, ""},
		{loose, `{"Name":"x","Other":1}`, 0, ""},
		{loose, `{"name":"x"}`, 0, ""},
		{loose, `{`, Syntax, "the request body is not valid JSON"},
		{loose, `{"Name":x}`, Syntax, "the request body is not valid JSON (at byte 9)"},
		{loose, `[]`, NotObject, "the request body must be a JSON object, not a JSON array"},
		{loose, `{} {}`, Trailing, "the request body has data after its JSON object"},
		{loose, `{"Name":5}`, Type, "Name must be a string, not a JSON number"},
		{loose, `{"N":"5"}`, Type, "N must be a number, not a JSON string"},
		{loose, `{"N":1.5}`, Range, "N is out of range"},
		{loose, `{"N":99999999999}`, Range, "N is out of range"},
		{loose, `{"Nested":{"A":1}}`, Type, "Nested.A must be a string, not a JSON number"},
		{exact, `{"Name":"x"}`, 0, ""},
		{exact, `{"name":"x"}`, Unknown, `"name" is not a parameter of this action`},
		{exact, `{"Nested":{"B":1}}`, Unknown, `"B" is not a parameter of this action`},
		{exact, `{"Name":"x","Name":"y"}`, Type, "Name is given twice"},
		{exact, `{"Name":"x"`, Syntax, "the request body is not valid JSON (it ends early)"},
		{exact, `[]`, NotObject, "the request body must be a JSON object"},
		{exact, `{"Name":"x"} x`, Trailing, "the request body has data after its JSON object"},
		{exact, `{"N":1.5}`, Type, "N must be an integer"},
		{exact, `{"N":"5"}`, Type, "N must be an integer, not a JSON string"},
		{exact, `{"N":99999999999}`, Range, "N is out of range"},
	} {
		var v req
		err := Decode([]byte(tc.body), &v, tc.o)
		var e *Error
		switch {
		case tc.kind == 0 && err != nil:
			t.Errorf("%q: %v", tc.body, err)
		case tc.kind != 0 && (!errors.As(err, &e) || e.Kind != tc.kind || e.Msg != tc.msg):
			t.Errorf("%q (exact %v): %#v; want %d %q", tc.body, tc.o.Exact, err, tc.kind, tc.msg)
		}
	}
	// A message quotes at most 64 bytes of a name the client chose.
	err := Decode([]byte(`{"`+strings.Repeat("a", 1000)+`":1}`), new(req), exact)
	if err == nil || len(err.Error()) > 120 {
		t.Errorf("long name: %v", err)
	}
	// A nested one too (encoding/json's own refusal, review finding: it
	// was repeated whole).
	err = Decode([]byte(`{"Nested":{"`+strings.Repeat("a", 30000)+`":1}}`), new(req), exact)
	if err == nil || len(err.Error()) > 120 || !strings.HasPrefix(err.Error(), `"aaaa`) {
		t.Errorf("long nested name: %.200v", err)
	}
}

// TestLooseAgreesWithDecoder holds the Unmarshal-first path of a loose
// Decode to what the decoder alone accepted before it (the dialects'
// decode): the same bodies accepted into the same values, the same refused.
// Among them what encoding/json is lenient about (case-insensitive names, a
// name given twice, null) and what each refuses differently (trailing data).
func TestLooseAgreesWithDecoder(t *testing.T) {
	decoderOnly := func(body []byte, v any) bool {
		if len(bytes.TrimSpace(body)) == 0 {
			body = []byte("{}")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if dec.Decode(v) != nil {
			return false
		}
		_, err := dec.Token()
		return err == io.EOF
	}
	loose := Options{Integer: "a number"}
	for _, body := range []string{
		``, ` `, `{}`, `null`, ` null `, `{"Name":"x"}`, `{"name":"x","NAME":"y"}`, `{"Name":"x","Name":"y"}`,
		`{"Name":"x"} `, `{"Name":"x"} {}`, `{"Name":"x"}x`, `{"Name":"x"}null`, `[]`, `"x"`, `1`, `true`,
		`{"N":1}`, `{"N":1.0}`, `{"N":1e2}`, `{"N":-0}`, `{"N":2147483648}`, `{"N":null}`, `{"F":1e400}`,
		`{"Nested":null}`, `{"Nested":{"a":"x","A":"y"}}`, `{"Nested":{"A":1}}`, `{"Nested":[]}`,
		`{"Name":"\ud800"}`, "{\"Name\":\"\xff\"}", `{"Name":"x",}`, `{,}`, `{"Name"}`, "{\"Name\":\"x\"}\x00",
		`{"Other":{"deep":[1,2,{"x":null}]}}`, `{"\u004eame":"x"}`, "\ufeff{}",
	} {
		var got, want req
		err := Decode([]byte(body), &got, loose)
		ok := decoderOnly([]byte(body), &want)
		if (err == nil) != ok {
			t.Errorf("%q: Decode %v, the decoder alone accepts: %v", body, err, ok)
			continue
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Decode gave %+v, the decoder alone %+v", body, got, want)
		}
	}
}

// TestExactRefusesWhatLooseMatches: with Exact, the names encoding/json
// would match in any case, or twice, are refused at the top level.
func TestExactRefusesWhatLooseMatches(t *testing.T) {
	exact := Options{Exact: true, Integer: "an integer", FractionIsType: true}
	for _, body := range []string{
		`{"Name":"x","name":"y"}`, `{"NAME":"x"}`, `{"name":"x","Name":"y"}`, `{"\u004eame":"x","Name":"y"}`,
		`{"Nested":{"A":"x","B":1}}`, `{"Name":"x","Name":"x"}`, `null`, `{"N":1,"n":2}`,
	} {
		if err := Decode([]byte(body), new(req), exact); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
}

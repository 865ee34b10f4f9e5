package strictjson

import (
	"errors"
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
}

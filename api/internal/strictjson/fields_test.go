package strictjson

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Types whose member names follow encoding/json's rules for "-", embedded
// structs and names that several fields share.
type (
	dashed struct {
		Skip string `json:"-"`  // no member
		Dash string `json:"-,"` // the member "-"
		Kept string
	}
	inner  struct{ A, B string }
	Inner2 struct{ C string }
	myInt  int
	MyInt  int
	// taggedEmbed: an embedded struct with a name in its tag is a member of
	// that name, its fields not promoted; through a pointer they are.
	taggedEmbed struct {
		inner `json:"in"`
		*Inner2
		Named Inner2
		myInt // unexported, not a struct: no member
		MyInt
	}
	x1 struct{ X, Z string }
	x2 struct{ X string }
	y1 struct{ Y string }
	y2 struct {
		Y string `json:"Y"`
	}
	conflicts struct {
		x1 // X: x2's too, at the same depth, so no member's
		x2
		y1 // Y: untagged, so y2's tagged one is the member
		y2
		Z string // the member Z, shallower than x1's
		Q string `json:"a\"b"` // an invalid tag name: the member is Q
	}
	twiceA struct{ inner }
	twiceB struct{ inner }
	twice  struct { // inner twice at one depth: A and B are no member
		twiceA
		twiceB
		Own string
	}
)

// jsonNames are the member names encoding/json gives a T (the names it
// decodes are those it encodes: both follow its typeFields), every field
// set (omitempty then drops none).
func jsonNames(t reflect.Type) map[string]bool {
	v := reflect.New(t).Elem()
	fillNonZero(v)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(marshal(v.Interface()), &m); err != nil {
		panic(err)
	}
	names := map[string]bool{}
	for k := range m {
		names[k] = true
	}
	return names
}

// fillNonZero sets every field v's exported fields reach to a value that
// is not zero, allocating pointers.
func fillNonZero(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fillNonZero(v.Field(i))
		}
		return
	case reflect.Pointer:
		if v.CanSet() {
			v.Set(reflect.New(v.Type().Elem()))
			fillNonZero(v.Elem())
		}
		return
	}
	if !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("v")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), reflect.New(v.Type().Elem()).Elem())
	}
}

// TestFieldsOf (review): fieldsOf, Exact's list of member names, names the
// members encoding/json does, for every field name and tag name of each
// type, and "-": a field tagged "-" is no member "-", a tagged embedded
// struct's fields are not promoted.
func TestFieldsOf(t *testing.T) {
	want := map[reflect.Type][]string{
		reflect.TypeFor[dashed]():      {"-", "Kept"},
		reflect.TypeFor[taggedEmbed](): {"C", "MyInt", "Named", "in"},
		reflect.TypeFor[conflicts]():   {"Q", "Y", "Z"},
		reflect.TypeFor[twice]():       {"Own"},
		reflect.TypeFor[attested]():    {"Context", "DryRun", "GrantTokens", "KeyId", "NumberOfBytes", "PublicKey", "Recipient"},
		reflect.TypeFor[deep]():        {"EncryptionPublicKey", "Recipient", "key_id", "tags"},
	}
	for typ, names := range want {
		got := slices.Sorted(maps.Keys(fieldsOf(typ)))
		if !slices.Equal(got, names) {
			t.Errorf("%v: fieldsOf %q, want %q", typ, got, names)
		}
		candidates := []string{"-", "a\"b", "a"}
		var walk func(reflect.Type, int)
		walk = func(st reflect.Type, depth int) {
			for st.Kind() == reflect.Pointer {
				st = st.Elem()
			}
			if st.Kind() != reflect.Struct || depth > 3 {
				return
			}
			for i := 0; i < st.NumField(); i++ {
				sf := st.Field(i)
				name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
				candidates = append(candidates, sf.Name, name)
				walk(sf.Type, depth+1)
			}
		}
		walk(typ, 0)
		for _, name := range candidates {
			if known := fieldsOf(typ)[name]; known != jsonNames(typ)[name] {
				t.Errorf("%v: fieldsOf says %q is a member: %v; encoding/json: %v", typ, name, known, !known)
			}
		}
	}
}

// TestExactDashAndTaggedEmbedding: under Exact, a member named for a field
// tagged "-", for a field of an embedded struct whose tag names it, or for
// two fields of one depth, is unknown to checkMembers itself (it was let
// through, for encoding/json's DisallowUnknownFields to refuse); the member
// "-" of a field tagged "-," is known.
func TestExactDashAndTaggedEmbedding(t *testing.T) {
	o := Options{Exact: true, Integer: "an integer"}
	for _, c := range []struct {
		v    any
		body string
	}{
		{new(dashed), `{"Skip":"x"}`},
		{new(taggedEmbed), `{"A":"x"}`},
		{new(conflicts), `{"X":"x"}`},
		{new(twice), `{"B":"x"}`},
	} {
		var e *Error
		err := o.checkMembers([]byte(c.body), fieldsOf(reflect.TypeOf(c.v).Elem()))
		if !errors.As(err, &e) || e.Kind != Unknown {
			t.Errorf("%T %s: checkMembers: %v", c.v, c.body, err)
		}
		if err := Decode([]byte(c.body), c.v, o); !errors.As(err, &e) || e.Kind != Unknown {
			t.Errorf("%T %s: Decode: %v", c.v, c.body, err)
		}
	}
	var d dashed
	if err := Decode([]byte(`{"-":"x","Kept":"y"}`), &d, o); err != nil || d.Dash != "x" || d.Kept != "y" {
		t.Errorf(`{"-":"x"}: %v %+v`, err, d)
	}
}

// Package strictjsontest holds strictjson's fast path to encoding/json over
// a dialect's real request types (strictjson.CheckFastPath), so that a
// request type changing (a new field, a new tag, a type the fast path plans
// differently) is checked the day it changes. Each dialect's tests call it
// over every request type its operations decode.
package strictjsontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/api/internal/strictjson"
)

// A Request is one request type a dialect decodes, with the dialect's options.
type Request struct {
	Type    reflect.Type // a struct
	Options strictjson.Options
}

// New is a pointer to a zero request.
func (r Request) New() any { return reflect.New(r.Type).Interface() }

// Requests are the distinct types of types, sorted by name (a fuzz target's
// index into them then means the same type on every run), with o.
func Requests(types []reflect.Type, o strictjson.Options) []Request {
	var rs []Request
	for _, t := range types {
		if !slices.ContainsFunc(rs, func(r Request) bool { return r.Type == t }) {
			rs = append(rs, Request{t, o})
		}
	}
	slices.SortFunc(rs, func(a, b Request) int { return strings.Compare(a.Type.String(), b.Type.String()) })
	return rs
}

// Check fails t where the fast path and encoding/json disagree on body for r.
// It reports whether the fast path handled body.
func Check(t testing.TB, r Request, body []byte) bool {
	t.Helper()
	fast, err := strictjson.CheckFastPath(body, r.New, r.Options)
	if err != nil {
		t.Fatal(err)
	}
	return fast
}

// CheckAll checks every request against bodies, its Filled body and that
// body's Mutants. It also fails t for a request whose Filled body the fast
// path declines: a type it never takes would agree with encoding/json and
// speed nothing.
func CheckAll(t *testing.T, reqs []Request, bodies [][]byte) {
	t.Helper()
	for _, r := range reqs {
		filled := Filled(r.New)
		if !Check(t, r, filled) {
			t.Errorf("%v: the fast path declines its filled body %s", r.Type, filled)
		}
		for _, b := range Mutants(filled) {
			Check(t, r, b)
		}
		for _, b := range bodies {
			Check(t, r, b)
		}
	}
}

// Filled is the JSON of newValue() with every field set to a value that is
// not zero: every member of the type, at every depth, each slice and map
// with one element. Strings are "v", integers 7, booleans true, []byte
// {1, 2, 3}.
func Filled(newValue func() any) []byte {
	v := newValue()
	fill(reflect.ValueOf(v).Elem(), 0)
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("strictjsontest: %T: %v", v, err))
	}
	return b
}

func fill(v reflect.Value, depth int) {
	if depth > 8 || !v.CanSet() && v.Kind() != reflect.Struct {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("v")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(7)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{1, 2, 3})
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		k.SetString("k")
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Anonymous || v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth) // an unexported embedded struct's exported fields are settable
			}
		}
	}
}

var memberName = regexp.MustCompile(`"([A-Za-z0-9_]+)":`)

// Mutants are variants of body, each one change away: every byte deleted or
// replaced by one of a few that matter to JSON; every member name in
// another case, escaped, given twice or after an unknown member; every
// value Filled writes as null, escaped, or as another spelling of a number.
func Mutants(body []byte) [][]byte {
	var out [][]byte
	for i := range body {
		out = append(out, slices.Delete(bytes.Clone(body), i, i+1))
		for _, c := range []byte("\"\\0Aan,}]. \x00\xff") {
			if body[i] != c {
				b := bytes.Clone(body)
				b[i] = c
				out = append(out, b)
			}
		}
	}
	for _, m := range memberName.FindAllSubmatchIndex(body, -1) {
		name := string(body[m[2]:m[3]])
		for _, repl := range []string{
			`"` + strings.ToLower(name) + `":`, `"` + strings.ToUpper(name) + `":`,
			`"` + swapFirst(name) + `":`, fmt.Sprintf(`"\u%04x%s":`, name[0], name[1:]),
			`"` + name + `":null,"` + name + `":`, `"` + name + `":"v","` + name + `":`,
			`"` + name + `":{},"` + name + `":`, `"Unknown_member":{"a":[1,null]},"` + name + `":`,
			`"` + name + `":7,"` + name + `":`, `"` + name + `":[],"` + name + `":`,
		} {
			out = append(out, slices.Concat(body[:m[0]], []byte(repl), body[m[1]:]))
		}
	}
	for _, sub := range [][2]string{
		{`"v"`, `null`}, {`"v"`, `"\u0076"`}, {`"v"`, `7`}, {`"v"`, `"v\u0000"`}, {`"v"`, "\"\xed\xa0\x80\""},
		{`7`, `null`}, {`7`, `7.0`}, {`7`, `7e0`}, {`7`, `-0`}, {`7`, `07`}, {`7`, `"7"`}, {`7`, `-7`},
		{`7`, `2147483648`}, {`7`, `9223372036854775808`}, {`7`, `-9223372036854775809`}, {`7`, `99999999999999999999`},
		{`true`, `null`}, {`true`, `"true"`}, {`true`, `1`}, {`"AQID"`, `"AQI"`}, {`"AQID"`, `"AQ\nID"`},
		{`{`, `{"Unknown_member":1,`}, {`[`, `[null,`}, {`}`, `} `}, {`}`, `}x`}, {`}`, `}{}`},
	} {
		for i := 0; ; {
			j := bytes.Index(body[i:], []byte(sub[0]))
			if j < 0 {
				break
			}
			i += j
			out = append(out, slices.Concat(body[:i], []byte(sub[1]), body[i+len(sub[0]):]))
			i += len(sub[0])
		}
	}
	return out
}

func swapFirst(s string) string {
	c := s[0]
	switch {
	case 'a' <= c && c <= 'z':
		c -= 'a' - 'A'
	case 'A' <= c && c <= 'Z':
		c += 'a' - 'A'
	}
	return string(c) + s[1:]
}

// Fuzz runs f over a request (an index into reqs) and a body: Check. Its
// seeds are each request's Filled body and bodies, for every request.
func Fuzz(f *testing.F, reqs []Request, bodies [][]byte) {
	for i, r := range reqs {
		f.Add(uint8(i), Filled(r.New))
		for _, b := range bodies {
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, body []byte) {
		Check(t, reqs[int(i)%len(reqs)], body)
	})
}

// CorpusBodies are the []byte values of the fuzz target name's seed corpus
// (testdata/fuzz/name, in the go test fuzz v1 format).
func CorpusBodies(t testing.TB, name string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
					out = append(out, []byte(s))
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no bodies in testdata/fuzz/%s", name)
	}
	return out
}

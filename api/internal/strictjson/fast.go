package strictjson

// The fast path: one pass over plain, canonical JSON into a request struct,
// for the bodies SDKs send (an attested AWS DeriveSharedSecret is ≈8 KB,
// most of it base64 in strings, which encoding/json scans twice).
//
// Threat model: the body is hostile. decodeFast either fills v exactly as
// encoding/json would (json.Unmarshal into the caller's zero v, which then
// succeeds) or declines and leaves v untouched, and decodeJSON runs as before.
// Declining is therefore always safe; accepting is what must be exact. So it
// accepts only input whose meaning is plain: strings with no escape, no
// control byte and valid UTF-8 (encoding/json would rewrite none of them);
// member names byte-equal to a field's JSON name, each once (encoding/json
// also matches other cases and lets the last of a duplicate win: Exact
// refuses both, and decodeJSON decides); integers without fraction,
// exponent, leading zero or -0, in range (decodeJSON words the error); no
// null, no unknown member at any depth (Exact refuses those, the loose
// dialects ignore them: decodeJSON does either), nothing after the object
// but JSON whitespace. Types it does not plan for exactly (embedding by
// pointer or with a tag, names that differ only in case, options other than
// omitempty, (Text)Unmarshaler implementers, json.Number, floats, unsigned
// integers, interfaces, other maps) decline when their member is present, or
// always.

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

type planKind uint8

const (
	pUnsupported planKind = iota // declines when its member is present
	pString
	pBool
	pInt
	pBytes // base64, as encoding/json decodes []byte
	pSlice
	pMap // string keys, string values
	pPtr
	pStruct
)

// A plan says how to decode JSON into one Go type; built once per type.
type plan struct {
	kind   planKind
	typ    reflect.Type
	elem   *plan            // pSlice, pPtr
	fields []planField      // pStruct
	byName map[string]uint8 // pStruct: index into fields
	// exactOK: every top-level name is one Exact's checkMembers knows.
	exactOK bool
}

type planField struct {
	name  string
	index []int // through embedded structs, as reflect.Value.FieldByIndex
	plan  *plan
}

var (
	planCache    sync.Map // reflect.Type → *plan
	unsupported  = &plan{kind: pUnsupported}
	unmarshalerT = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshT = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonNumberT  = reflect.TypeFor[json.Number]()
	byteT        = reflect.TypeFor[byte]()
)

const maxPlanFields = 64 // a uint64 marks the members seen

func planOf(t reflect.Type) *plan {
	if p, ok := planCache.Load(t); ok {
		return p.(*plan)
	}
	p, _ := planCache.LoadOrStore(t, buildPlan(t, map[reflect.Type]bool{}))
	return p.(*plan)
}

// customDecoded reports whether encoding/json would hand a value of type t
// to a method rather than decode it itself.
func customDecoded(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(unmarshalerT) || t.Implements(textUnmarshT) ||
		pt.Implements(unmarshalerT) || pt.Implements(textUnmarshT)
}

// buildPlan plans t; busy holds the types being planned (a type that
// contains itself — a struct, or a named slice or pointer type such as
// type L []L — is not planned).
func buildPlan(t reflect.Type, busy map[reflect.Type]bool) *plan {
	if customDecoded(t) || busy[t] {
		return unsupported
	}
	busy[t] = true
	defer delete(busy, t)
	p := &plan{typ: t}
	switch t.Kind() {
	case reflect.String:
		if t == jsonNumberT {
			return unsupported
		}
		p.kind = pString
	case reflect.Bool:
		p.kind = pBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = pInt
	case reflect.Slice:
		if t.Elem() == byteT {
			p.kind = pBytes
			break
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return unsupported
		}
		p.kind, p.elem = pSlice, buildPlan(t.Elem(), busy)
		if p.elem.kind == pUnsupported {
			return unsupported
		}
	case reflect.Map:
		k, e := t.Key(), t.Elem()
		if k.Kind() != reflect.String || customDecoded(k) ||
			e.Kind() != reflect.String || e == jsonNumberT || customDecoded(e) {
			return unsupported
		}
		p.kind = pMap
	case reflect.Pointer:
		p.kind, p.elem = pPtr, buildPlan(t.Elem(), busy)
		if p.elem.kind == pUnsupported || p.elem.kind == pPtr {
			return unsupported
		}
	case reflect.Struct:
		p.kind = pStruct
		if !p.addFields(t, nil, busy) || len(p.fields) > maxPlanFields {
			return unsupported
		}
		p.byName = make(map[string]uint8, len(p.fields))
		known := fieldsOf(t)
		p.exactOK = true
		for i, f := range p.fields {
			for _, g := range p.fields[:i] {
				if strings.EqualFold(f.name, g.name) {
					return unsupported // encoding/json's dominance rules: not emulated
				}
			}
			p.byName[f.name] = uint8(i)
			p.exactOK = p.exactOK && known[f.name]
		}
	default:
		return unsupported
	}
	return p
}

// addFields adds t's fields as encoding/json names them, those of embedded
// structs promoted; false for what it does not emulate.
func (p *plan) addFields(t reflect.Type, index []int, busy map[reflect.Type]bool) bool {
	if len(index) > 4 {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, tagged := sf.Tag.Lookup("json")
		idx := append(index[:len(index):len(index)], i)
		if sf.Anonymous {
			if tagged || sf.Type.Kind() != reflect.Struct || customDecoded(sf.Type) ||
				!p.addFields(sf.Type, idx, busy) {
				return false
			}
			continue
		}
		if !sf.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		for opts != "" {
			var o string
			o, opts, _ = strings.Cut(opts, ",")
			if o != "omitempty" && o != "omitzero" {
				return false
			}
		}
		if name == "" {
			name = sf.Name
		}
		for j := 0; j < len(name); j++ {
			c := name[j]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
		p.fields = append(p.fields, planField{name: name, index: idx, plan: buildPlan(sf.Type, busy)})
	}
	return true
}

// decodeFast decodes body into v, a pointer to the caller's zero request
// struct, if it is plain (above); false, v untouched, if not.
func decodeFast(body []byte, v any, o Options) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	p := planOf(rv.Type().Elem())
	// json.Unmarshal merges into what v holds; this path fills a zero value.
	if p.kind != pStruct || o.Exact && !p.exactOK || !rv.Elem().IsZero() {
		return false
	}
	d := scanner{data: body}
	d.skipSpace()
	fresh := reflect.New(p.typ).Elem()
	if !d.value(fresh, p) {
		return false
	}
	if d.skipSpace(); d.off != len(d.data) {
		return false
	}
	rv.Elem().Set(fresh)
	return true
}

// scanner reads body from off; each method returns false to decline.
type scanner struct {
	data []byte
	off  int
}

func (d *scanner) skipSpace() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// next skips JSON whitespace and consumes c if it is the next byte.
func (d *scanner) next(c byte) bool {
	d.skipSpace()
	if d.off < len(d.data) && d.data[d.off] == c {
		d.off++
		return true
	}
	return false
}

// str reads a string at off (whitespace skipped): its bytes, which are its
// value, since it holds no escape and no control byte. Non-ASCII bytes must
// be valid UTF-8 (else encoding/json would replace them), and are declined
// where ascii is asked for.
func (d *scanner) str(ascii bool) ([]byte, bool) {
	if !d.next('"') {
		return nil, false
	}
	n := bytes.IndexByte(d.data[d.off:], '"') // no backslash may precede it
	if n < 0 {
		return nil, false
	}
	s := d.data[d.off : d.off+n]
	d.off += n + 1
	plain, nonASCII := scanPlain(s)
	if !plain || nonASCII && (ascii || !utf8.Valid(s)) {
		return nil, false
	}
	return s, true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// scanPlain reports whether s holds no backslash and no byte below 0x20,
// and whether it holds a byte above 0x7f: eight bytes at a time, each word
// with such a byte checked bytewise.
func scanPlain(s []byte) (plain, nonASCII bool) {
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		b := x ^ ('\\' * ones)
		// Nonzero iff a byte is below 0x20, is '\\' (b has a zero byte) or
		// has its high bit set: exact for the word, not for which byte.
		if ((x-0x20*ones)&^x|(b-ones)&^b|x)&highs != 0 {
			for _, c := range s[:8] {
				if c < 0x20 || c == '\\' {
					return false, false
				}
				nonASCII = nonASCII || c >= 0x80
			}
		}
		s = s[8:]
	}
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return false, false
		}
		nonASCII = nonASCII || c >= 0x80
	}
	return true, nonASCII
}

// value decodes the value at off into v, settable and zero, by p.
func (d *scanner) value(v reflect.Value, p *plan) bool {
	switch p.kind {
	case pString:
		s, ok := d.str(false)
		if ok {
			v.SetString(string(s))
		}
		return ok
	case pBytes:
		s, ok := d.str(true)
		if !ok {
			return false
		}
		// As encoding/json: StdEncoding, padded; it would skip \r and \n,
		// which str refused.
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		if err != nil {
			return false
		}
		v.SetBytes(b[:n])
		return true
	case pBool:
		d.skipSpace()
		switch rest := d.data[d.off:]; {
		case len(rest) >= 4 && string(rest[:4]) == "true":
			d.off += 4
			v.SetBool(true)
		case len(rest) >= 5 && string(rest[:5]) == "false":
			d.off += 5
		default:
			return false
		}
		return true // "truex": the byte after is checked by the container
	case pInt:
		n, ok := d.integer()
		if !ok || v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
		return true
	case pPtr:
		e := reflect.New(p.elem.typ)
		if !d.value(e.Elem(), p.elem) {
			return false
		}
		v.Set(e)
		return true
	case pSlice:
		return d.slice(v, p)
	case pMap:
		return d.object(v, p)
	case pStruct:
		return d.object(v, p)
	}
	return false
}

// integer reads -?[1-9][0-9]{0,18} or 0 into an int64: no spelling (1.0,
// 1e2, -0, 01) whose error or value decodeJSON decides.
func (d *scanner) integer() (int64, bool) {
	d.skipSpace()
	neg := d.off < len(d.data) && d.data[d.off] == '-'
	if neg {
		d.off++
	}
	if d.off < len(d.data) && d.data[d.off] == '0' {
		d.off++
		return 0, !neg
	}
	var n uint64 // 19 digits do not overflow it
	digits := 0
	for ; d.off < len(d.data) && '0' <= d.data[d.off] && d.data[d.off] <= '9'; d.off++ {
		if digits++; digits > 19 {
			return 0, false
		}
		n = n*10 + uint64(d.data[d.off]-'0')
	}
	switch {
	case digits == 0 || n > 1<<63 || n == 1<<63 && !neg:
		return 0, false
	case neg:
		return -int64(n), true // -(1<<63) too: the negation wraps to itself
	}
	return int64(n), true
}

// slice decodes an array into v, a slice: [] is an empty slice, not nil, as
// encoding/json leaves it.
func (d *scanner) slice(v reflect.Value, p *plan) bool {
	if !d.next('[') {
		return false
	}
	v.Set(reflect.MakeSlice(p.typ, 0, 0))
	if d.next(']') {
		return true
	}
	for n := 0; ; n++ {
		v.Grow(1)
		v.SetLen(n + 1)
		e := v.Index(n)
		e.SetZero()
		if !d.value(e, p.elem) {
			return false
		}
		if d.next(']') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// object decodes an object into v, a struct or a map (p says): each name
// once, and, for a struct, the JSON name of one of its fields exactly.
func (d *scanner) object(v reflect.Value, p *plan) bool {
	if !d.next('{') {
		return false
	}
	var key, val reflect.Value
	if p.kind == pMap {
		v.Set(reflect.MakeMap(p.typ))
		key, val = reflect.New(p.typ.Key()).Elem(), reflect.New(p.typ.Elem()).Elem()
	}
	if d.next('}') {
		return true
	}
	var seen uint64
	for {
		name, ok := d.str(p.kind == pStruct)
		if !ok || !d.next(':') {
			return false
		}
		if p.kind == pMap {
			s, ok := d.str(false)
			if !ok {
				return false
			}
			n := v.Len()
			key.SetString(string(name))
			val.SetString(string(s))
			if v.SetMapIndex(key, val); v.Len() == n {
				return false // a key given twice
			}
		} else {
			i, ok := p.byName[string(name)]
			if !ok || seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			f := &p.fields[i]
			if !d.value(v.FieldByIndex(f.index), f.plan) {
				return false
			}
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

package policy

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on a document. The policy author may be an attacker who holds
// kms:PutKeyPolicy on one key; these keep Parse and Evaluate cheap for any
// document.
const (
	// maxDocument is AWS KMS's own limit on a key policy (32 KiB).
	maxDocument = 32 << 10
	// maxStatements: AWS has no count limit, only the size; 100 statements is
	// far more than any real key policy carries.
	maxStatements = 100
	// maxDepth is the deepest a valid policy nests: document > Statement list
	// > statement > Condition > operator > value list. Anything deeper is
	// malformed, and the bound keeps the decoder's recursion shallow.
	maxDepth = 6
	// maxList bounds one JSON array or object: principals, actions,
	// resources, condition values, keys of one operator.
	maxList = 500
	// maxQuoted is how much of a document's string an error message echoes.
	maxQuoted = 64
)

// kind is the type of a JSON value.
type kind uint8

const (
	kindString kind = iota
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

// node is one JSON value, objects kept in document order.
type node struct {
	kind kind
	text string   // a string, the literal text of a number, "true" or "false"
	keys []string // an object's keys
	vals []*node  // an object's values, or an array's elements
}

// get returns the value of an object's key, or nil.
func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (k kind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "an object"
	default:
		return "a list"
	}
}

// decodeJSON reads doc as exactly one JSON value, strictly: valid UTF-8,
// within the bounds above, no duplicate key in any object, nothing after the
// value. encoding/json's Unmarshal keeps the last of duplicate keys, which
// another reader may not; a token walk sees them all.
func decodeJSON(doc string) (*node, error) {
	if len(doc) > maxDocument {
		return nil, malformed("the document is %d bytes, more than %d", len(doc), maxDocument)
	}
	if !utf8.ValidString(doc) {
		return nil, malformed("the document is not UTF-8")
	}
	d := &decoder{dec: json.NewDecoder(strings.NewReader(doc))}
	d.dec.UseNumber()
	root, err := d.value(1)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, malformed("data after the policy's JSON object")
	}
	return root, nil
}

// decoder walks a document's tokens, knowing where it is for its errors.
type decoder struct {
	dec  *json.Decoder
	path []string // ".key" and "[index]" elements leading to the value being read
}

// where names the value being read, e.g. "Statement[1].Condition.StringEquals".
func (d *decoder) where() string {
	if len(d.path) == 0 {
		return "the document"
	}
	var b strings.Builder
	for _, p := range d.path {
		if len(p) > maxQuoted {
			p = p[:maxQuoted] + "..."
		}
		b.WriteString(p)
	}
	return strconv.QuoteToASCII(strings.TrimPrefix(b.String(), "."))
}

// value reads one value at the given depth (the document is depth 1).
func (d *decoder) value(depth int) (*node, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntaxError(err)
	}
	switch t := tok.(type) {
	case string:
		if err := d.checkString(t); err != nil {
			return nil, err
		}
		return &node{kind: kindString, text: t}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(t)}, nil
	case bool:
		if t {
			return &node{kind: kindBool, text: "true"}, nil
		}
		return &node{kind: kindBool, text: "false"}, nil
	case nil:
		return &node{kind: kindNull}, nil
	case json.Delim:
		if depth > maxDepth {
			return nil, malformed("JSON nested deeper than %d levels, at %s", maxDepth, d.where())
		}
		if t == '[' {
			n := &node{kind: kindArray}
			for d.dec.More() {
				if len(n.vals) == maxList {
					return nil, malformed("a list of more than %d entries, at %s", maxList, d.where())
				}
				d.path = append(d.path, "["+strconv.Itoa(len(n.vals))+"]")
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				d.path = d.path[:len(d.path)-1]
				n.vals = append(n.vals, v)
			}
			return n, d.closing()
		}
		// '{': the only other opening token Token returns.
		n := &node{kind: kindObject}
		seen := make(map[string]bool)
		for d.dec.More() {
			if len(n.keys) == maxList {
				return nil, malformed("an object of more than %d keys, at %s", maxList, d.where())
			}
			kt, err := d.dec.Token()
			if err != nil {
				return nil, d.syntaxError(err)
			}
			k, ok := kt.(string)
			if !ok { // Token already refuses anything else in key position
				return nil, malformed("an object key is not a string, at %s", d.where())
			}
			if err := d.checkString(k); err != nil {
				return nil, err
			}
			if seen[k] {
				return nil, malformed("duplicate key %s in %s", quote(k), d.where())
			}
			seen[k] = true
			d.path = append(d.path, "."+k)
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d.path = d.path[:len(d.path)-1]
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
		}
		return n, d.closing()
	}
	return nil, malformed("unexpected JSON token at %s", d.where())
}

// closing reads the ']' or '}' that ends a list or object.
func (d *decoder) closing() error {
	if _, err := d.dec.Token(); err != nil {
		return d.syntaxError(err)
	}
	return nil
}

// checkString refuses the replacement character: the document is valid
// UTF-8, so a U+FFFD in a decoded string came from an escaped lone surrogate
// (or was written as such), which readers decode differently.
func (d *decoder) checkString(s string) error {
	if strings.ContainsRune(s, utf8.RuneError) {
		return malformed("a string holds U+FFFD or an unpaired surrogate escape, at %s", d.where())
	}
	return nil
}

func (d *decoder) syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("the JSON ends early")
	}
	return malformed("not JSON: %v (near byte %d)", err, d.dec.InputOffset())
}

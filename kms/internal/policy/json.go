package policy

import (
	"encoding/json"
	"errors"
	"io"
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
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	root, err := value(d, 1)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, malformed("data after the policy's JSON object")
	}
	return root, nil
}

// value reads one value at the given depth (the document is depth 1).
func value(d *json.Decoder, depth int) (*node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	switch t := tok.(type) {
	case string:
		if err := checkString(t); err != nil {
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
			return nil, malformed("JSON nested deeper than %d levels", maxDepth)
		}
		if t == '[' {
			n := &node{kind: kindArray}
			for d.More() {
				if len(n.vals) == maxList {
					return nil, malformed("a list of more than %d entries", maxList)
				}
				v, err := value(d, depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			return n, closing(d)
		}
		// '{': the only other opening token Token returns.
		n := &node{kind: kindObject}
		seen := make(map[string]bool)
		for d.More() {
			if len(n.keys) == maxList {
				return nil, malformed("an object of more than %d keys", maxList)
			}
			kt, err := d.Token()
			if err != nil {
				return nil, syntaxError(err)
			}
			k, ok := kt.(string)
			if !ok { // Token already refuses anything else in key position
				return nil, malformed("an object key is not a string")
			}
			if err := checkString(k); err != nil {
				return nil, err
			}
			if seen[k] {
				return nil, malformed("duplicate key %s", quote(k))
			}
			seen[k] = true
			v, err := value(d, depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
		}
		return n, closing(d)
	}
	return nil, malformed("unexpected JSON token")
}

// closing reads the ']' or '}' that ends a list or object.
func closing(d *json.Decoder) error {
	if _, err := d.Token(); err != nil {
		return syntaxError(err)
	}
	return nil
}

// checkString refuses the replacement character: the document is valid
// UTF-8, so a U+FFFD in a decoded string came from an escaped lone surrogate
// (or was written as such), which readers decode differently.
func checkString(s string) error {
	if strings.ContainsRune(s, utf8.RuneError) {
		return malformed("a string holds U+FFFD or an unpaired surrogate escape")
	}
	return nil
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("the JSON ends early")
	}
	return malformed("not JSON: %v", err)
}

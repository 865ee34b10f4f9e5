package recipient

import (
	"errors"
	"fmt"
)

// The BER this package reads, in the enclave, from bytes that crossed the
// host: the few forms a CMS envelope from AWS KMS or OpenSSL uses, nothing
// more. encoding/asn1 and cryptobyte read DER only, and the envelope is not
// DER. (What WrapCMS writes is in wrapcms.go; the schema it reads is in
// unwrapcms.go.)
//
// The reader accepts, of BER's freedoms, only indefinite lengths on
// constructed elements. It refuses what no producer we know of writes and
// what would only widen what an attacker may send: high tag numbers,
// non-minimal length encodings, lengths of more than four bytes, indefinite
// lengths on primitive elements, and constructed encodings of primitive types
// (the schema asks for the primitive tag byte, so 0x24 is not 0x04). Nothing
// it does allocates: elements are sub-slices of the input.

// maxDepth bounds nesting, and with it the recursion of the indefinite-length
// scan: the AWS envelope nests 11 levels (0 to 10, the NULL of MGF1's hash).
const maxDepth = 16

// element is one BER element, its body a sub-slice of the input.
type element struct {
	tag        byte
	body       []byte // the contents; of an indefinite element, its children without the end-of-contents
	indefinite bool
	depth      int // 0 for the outermost element
}

var (
	errTruncated = errors.New("truncated")
	errDepth     = fmt.Errorf("nested deeper than %d", maxDepth)
)

// readElement reads the element at the front of b, found at nesting depth
// depth, and returns it with the bytes after it. An indefinite-length element
// is scanned to its end-of-contents, its children read (not interpreted) to
// find it; maxDepth bounds that recursion.
func readElement(b []byte, depth int) (e element, rest []byte, err error) {
	if depth > maxDepth {
		return element{}, nil, errDepth
	}
	if len(b) < 2 {
		return element{}, nil, errTruncated
	}
	tag, l := b[0], b[1]
	switch {
	case tag == 0:
		return element{}, nil, errors.New("end-of-contents where an element belongs")
	case tag&0x1f == 0x1f:
		return element{}, nil, fmt.Errorf("high tag number form (0x%02x)", tag)
	}
	var n, hdr int
	switch {
	case l < 0x80:
		n, hdr = int(l), 2
	case l == 0x80:
		if tag&tagConstructed == 0 {
			return element{}, nil, fmt.Errorf("indefinite length on primitive element 0x%02x", tag)
		}
		body := b[2:]
		for off := 0; ; {
			if len(body)-off < 2 {
				return element{}, nil, fmt.Errorf("element 0x%02x: indefinite length without end-of-contents", tag)
			}
			if body[off] == 0 {
				if body[off+1] != 0 {
					return element{}, nil, errors.New("malformed end-of-contents")
				}
				return element{tag: tag, body: body[:off], indefinite: true, depth: depth}, body[off+2:], nil
			}
			_, r, err := readElement(body[off:], depth+1)
			if err != nil {
				return element{}, nil, err
			}
			off = len(body) - len(r)
		}
	default:
		k := int(l & 0x7f)
		if k > 4 { // also 0xff, reserved
			return element{}, nil, fmt.Errorf("length of %d bytes", k)
		}
		if len(b) < 2+k {
			return element{}, nil, errTruncated
		}
		var v uint64
		for _, c := range b[2 : 2+k] {
			v = v<<8 | uint64(c)
		}
		if b[2] == 0 || v < 0x80 {
			return element{}, nil, errors.New("length not minimally encoded")
		}
		if v > uint64(len(b)-2-k) {
			return element{}, nil, fmt.Errorf("length %d exceeds the %d bytes left", v, len(b)-2-k)
		}
		n, hdr = int(v), 2+k
	}
	if n > len(b)-hdr {
		return element{}, nil, fmt.Errorf("length %d exceeds the %d bytes left", n, len(b)-hdr)
	}
	return element{tag: tag, body: b[hdr : hdr+n], depth: depth}, b[hdr+n:], nil
}

// reader reads the children of one constructed element, in order.
type reader struct {
	b     []byte
	depth int // of the children
}

func (e element) children() reader { return reader{b: e.body, depth: e.depth + 1} }

func (r *reader) empty() bool { return len(r.b) == 0 }

// peek returns the identifier octet of the next child, or 0 at the end.
func (r *reader) peek() byte {
	if len(r.b) == 0 {
		return 0
	}
	return r.b[0]
}

// read reads the next child, which must have the identifier octet tag. what
// names it in errors, which all wrap ErrMalformed.
func (r *reader) read(tag byte, what string) (element, error) {
	if len(r.b) == 0 {
		return element{}, fmt.Errorf("%w: %s missing", ErrMalformed, what)
	}
	e, rest, err := readElement(r.b, r.depth)
	if err != nil {
		return element{}, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if e.tag != tag {
		return element{}, fmt.Errorf("%w: %s: tag 0x%02x, want 0x%02x", ErrMalformed, what, e.tag, tag)
	}
	r.b = rest
	return e, nil
}

// done fails if children are left: every schema here is closed.
func (r *reader) done(what string) error {
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %s: unexpected element 0x%02x at its end", ErrMalformed, what, r.b[0])
	}
	return nil
}

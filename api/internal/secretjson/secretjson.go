// Package secretjson writes JSON answers that may hold secrets so that every
// copy of a secret the server makes can be zeroed: Write encodes into a
// buffer it zeroes once sent, and RawString carries a secret's encoding
// (Base64, Hex) into that buffer without a Go string, which could not be
// zeroed. The operation that made a RawString lists it among its answer's
// secrets (pipeline.OK), and the pipeline zeroes those once the answer is
// written.
//
// What this does not do: zero what encoding/json or net/http copy for
// themselves (net/http's write buffer), or the client's copy. It narrows
// the window in which a secret sits in the server's memory; it does not
// close it.
package secretjson

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
)

// Write encodes v as the answer, with status and contentType, from a buffer
// it zeroes after sending: the answer may hold a secret.
func Write(w http.ResponseWriter, status int, contentType string, v any) error {
	// A pooled buffer with room for most answers at once (a data key's is
	// 300 bytes, with a Recipient 800), zeroed before it goes back: every
	// answer written into it was zeroed once sent, so it holds none. A
	// larger answer (an RSA data key pair's private key) leaves no copy
	// behind either: the Encoder writes the answer in one Write, so the
	// buffer grows while still empty. The copy this does not reach is
	// encoding/json's own (its pooled encoding state, not zeroed), as the
	// package says.
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		clear(buf.Bytes())
		buf.Reset()
		if buf.Cap() <= maxPooled {
			buffers.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return err
	}
	w.Header()["Content-Type"] = contentTypeValue(contentType)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// contentTypeValue is the header value []string{ct}, made once for each of
// the dialects' few content types rather than for every answer. The slice
// is shared by every answer: net/http only reads it, and an Add to it
// would append past its capacity, into a new array.
func contentTypeValue(ct string) []string {
	if v, ok := contentTypes.Load(ct); ok {
		return v.([]string)
	}
	v := []string{ct}
	contentTypes.Store(ct, v)
	return v
}

var contentTypes sync.Map // string → []string

// buffers are Write's, each zeroed when put back; one grown past maxPooled
// (a large key pair's answer) is left to the collector, already zeroed.
var buffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 1024)) }}

const maxPooled = 16 << 10

// RawString is a secret's text in a JSON answer, quoted ("…"), in one buffer
// that MarshalJSON returns itself: encoding/json then copies the secret only
// into the answer's buffer, which Write zeroes, and listing the RawString
// among the answer's secrets lets the pipeline zero this one. Made by Base64,
// Hex and Text, which encode without a Go string.
type RawString []byte

// MarshalJSON implements json.Marshaler.
func (r RawString) MarshalJSON() ([]byte, error) { return r, nil }

// Base64 is secret's standard base64, as a RawString.
func Base64(secret []byte) RawString {
	out := make(RawString, base64.StdEncoding.EncodedLen(len(secret))+2)
	out[0], out[len(out)-1] = '"', '"'
	base64.StdEncoding.Encode(out[1:], secret)
	return out
}

// Hex is secret's lower-case hex, as a RawString.
func Hex(secret []byte) RawString {
	out := make(RawString, hex.EncodedLen(len(secret))+2)
	out[0], out[len(out)-1] = '"', '"'
	hex.Encode(out[1:], secret)
	return out
}

// Text is secret, a secret that is itself text (an access key's secret
// access key), as a JSON string in a RawString. Printable ASCII but the
// quote and the backslash is copied as is; every other byte is escaped as
// \u00XX, so the string is valid JSON whatever the bytes (a byte past ASCII
// reads as the code point of its value).
func Text(secret []byte) RawString {
	const hexDigits = "0123456789abcdef"
	n := 2
	for _, c := range secret {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			n += 6
		} else {
			n++
		}
	}
	out := make(RawString, 0, n)
	out = append(out, '"')
	for _, c := range secret {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			out = append(out, c)
		}
	}
	return append(out, '"')
}

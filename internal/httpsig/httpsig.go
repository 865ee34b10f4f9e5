// Package httpsig holds what every HTTP request-signature scheme of
// attestkms shares below the scheme itself: the kinds of error a signature
// check fails with, and the character classes and bounds requests are
// checked with. The signer the enclave uses (internal/sigv4) and the
// server's verifiers (api/internal/hmacauth and the scheme packages under
// api/) import it, so that what Sign refuses and what Verify refuses are
// one kind and are judged by one copy of each check.
//
// Threat model: every input here is the attacker's on the server side, and
// the functions are total, allocation-free predicates over bytes. Error
// kinds carry no detail; whoever returns one wraps it with what failed, and
// never with a secret or an expected signature.
package httpsig

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"
)

// The kinds a request-signature check fails with, for errors.Is. Every
// verifier's error wraps exactly one of them.
var (
	// ErrMissing: the request has no Authorization header at all.
	ErrMissing = errors.New("missing authentication")
	// ErrMalformed: the Authorization header or the signed time cannot be
	// parsed, lacks a part, names another algorithm or service, the signed
	// headers do not cover what they must, or the request asks for a
	// feature the scheme does not support. Sign refuses what it cannot
	// sign as a verifier would accept it with this kind too.
	ErrMalformed = errors.New("malformed signature")
	// ErrExpired: the signed time is further from now than the verifier's
	// skew allows, either way.
	ErrExpired = errors.New("signature expired")
	// ErrSignature: the access key is unknown, or the signature is not the
	// one its secret makes for this request. The two are deliberately one
	// error with one message.
	ErrSignature = errors.New("signature does not match")
	// ErrConfig: the verifier cannot verify anything (no service, no
	// lookup, a negative skew, a zero clock). Nothing is accepted; it is
	// the server's fault, never the client's.
	ErrConfig = errors.New("signature verifier misconfigured")
)

const (
	// MaxMethod bounds the method; the longest standard one has 7 bytes.
	MaxMethod = 32
	// MaxHost bounds the host: a DNS name has at most 253 bytes; the rest
	// is room for a port or an IPv6 literal with a zone.
	MaxHost = 300
)

// IsToken reports whether s is 1 to max bytes, each passing ok.
func IsToken(s string, max int, ok func(byte) bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// IsLowerHex reports whether s is exactly n lower-case hex digits.
func IsLowerHex(s string, n int) bool {
	return len(s) == n && IsToken(s, n, func(c byte) bool { return IsDigit(c) || 'a' <= c && c <= 'f' })
}

func IsDigit(c byte) bool { return '0' <= c && c <= '9' }
func IsLower(c byte) bool { return 'a' <= c && c <= 'z' }
func IsUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// IsHeaderNameByte is RFC 9110's tchar without upper-case letters.
func IsHeaderNameByte(c byte) bool {
	return IsDigit(c) || IsLower(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// IsMethodByte is RFC 9110's tchar: a method is a token.
func IsMethodByte(c byte) bool { return IsHeaderNameByte(c) || IsUpper(c) }

// IsHostByte is what net/http's server lets into a Host header (RFC 3986
// reg-name, IP literal and port characters). Verifiers check it again
// rather than trust the HTTP layer: a space would be trimmed by a canonical
// form, so "h " and "h" would be signed alike.
func IsHostByte(c byte) bool {
	return IsDigit(c) || IsLower(c) || IsUpper(c) || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0
}

// SentAsIs reports whether net/http's client sends host, a valid Host
// value (IsToken with IsHostByte), unchanged. It does not for an IPv6 literal
// with a zone ("[fe80::1%en0]"): RFC 6874 has a client drop the zone, so a
// signer that signed it would sign a host that is never sent.
func SentAsIs(host string) bool {
	return !strings.HasPrefix(host, "[") || !strings.Contains(host, "%")
}

// IsUnreserved is RFC 3986's unreserved set, A-Z a-z 0-9 - . _ ~: what
// every scheme's canonical URI and query leave unescaped.
func IsUnreserved(c byte) bool {
	return IsDigit(c) || IsLower(c) || IsUpper(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// HasControl reports whether v holds a control byte other than tab, which
// net/http's server refuses too: a line feed in a value could pass for the
// end of its line in a canonical request.
func HasControl(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// ASCIILower lower-cases A-Z only: unlike strings.ToLower it maps no other
// byte (the Kelvin sign is not a k), so a non-ASCII name never matches a
// signed one. The header names the SDKs send, in net/http's canonical form,
// are looked up rather than copied: the verifiers lower-case every header
// name of every request.
func ASCIILower(s string) string {
	i := 0
	for i < len(s) && !IsUpper(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	if l, ok := knownLower[s]; ok {
		return l
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if IsUpper(b[i]) {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// WriteCanonicalRequest writes to w the canonical request every scheme here
// signs, in its one layout:
//
//	Method \n URI \n Query \n HeaderLines \n SignedHeaders \n PayloadHash
//
// The URI and query are given already canonical; header appends to dst the
// lines of names[i] ("name:value\n", its value canonicalised the scheme's
// way); SignedHeaders is names joined by ";". It writes in pieces of about 4
// KiB, so a hash takes it without one large buffer.
func WriteCanonicalRequest(w io.Writer, method, uri, query string, names []string, header func(dst []byte, i int) []byte, payloadHash []byte) {
	bp := canonicalBuffers.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 8<<10 {
			*bp = buf[:0]
			canonicalBuffers.Put(bp)
		}
	}()
	buf = append(buf, method...)
	buf = append(buf, '\n')
	buf = append(buf, uri...)
	buf = append(buf, '\n')
	buf = append(buf, query...)
	buf = append(buf, '\n')
	for i := range names {
		buf = header(buf, i)
		if len(buf) > 4096 {
			w.Write(buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, '\n')
	for i, name := range names {
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = append(buf, name...)
	}
	buf = append(buf, '\n')
	buf = append(buf, payloadHash...)
	w.Write(buf)
}

// canonicalBuffers are WriteCanonicalRequest's (a canonical request holds
// no secret: a signature's inputs, not its key); io.Writer's contract says
// w keeps none of what it is given.
var canonicalBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// SortedHeaders lists the names of byName sorted, with their values in the
// same order: what a signer signs once it has gathered the headers.
func SortedHeaders(byName map[string][]string) ([]string, [][]string) {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	values := make([][]string, len(names))
	for i, n := range names {
		values[i] = byName[n]
	}
	return names, values
}

// HexSHA256 is the lower-case hex SHA-256 of what write writes: a canonical
// request's hash, as every scheme here signs it.
func HexSHA256(write func(io.Writer)) []byte {
	h := sha256.New()
	write(h)
	var sum [sha256.Size]byte
	return hex.AppendEncode(nil, h.Sum(sum[:0]))
}

// Text is what write writes, as a string: a canonical request, for tests
// and debugging.
func Text(write func(io.Writer)) string {
	var b strings.Builder
	write(&b)
	return b.String()
}

// StringToSign is what every scheme here MACs: the algorithm, the signed
// time as sent, the credential scope (SDK-HMAC-SHA256 has none, and then no
// such line) and the canonical request's hex hash, one per line.
func StringToSign(algorithm, signedTime, scope string, canonicalHash []byte) []byte {
	b := make([]byte, 0, len(algorithm)+len(signedTime)+len(scope)+len(canonicalHash)+3)
	b = append(append(b, algorithm...), '\n')
	b = append(append(b, signedTime...), '\n')
	if scope != "" {
		b = append(append(b, scope...), '\n')
	}
	return append(b, canonicalHash...)
}

// knownLower maps the canonical form (textproto.CanonicalMIMEHeaderKey) of
// the header names that the AWS, Huawei and Tencent SDKs and HTTP clients
// send to their lower case.
var knownLower = func() map[string]string {
	names := []string{
		"accept", "accept-encoding", "amz-sdk-invocation-id", "amz-sdk-request", "authorization",
		"connection", "content-length", "content-md5", "content-type", "expect", "host",
		"transfer-encoding", "user-agent", "x-amz-content-sha256", "x-amz-date",
		"x-amz-security-token", "x-amz-target", "x-amz-user-agent", "x-amzn-trace-id",
		"x-project-id", "x-sdk-content-sha256", "x-sdk-date", "x-tc-action", "x-tc-content-sha256",
		"x-tc-language", "x-tc-region", "x-tc-requestclient", "x-tc-timestamp", "x-tc-token",
		"x-tc-version",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[textproto.CanonicalMIMEHeaderKey(n)] = n
	}
	return m
}()

// ParseTime parses s, which must have exactly layout's shape, where layout
// is made of Go's reference fields 2006, 01, 02, 15, 04 and 05 (each that
// many digits, no fewer) and literal bytes: what time.Parse(layout, s)
// accepts and Format prints back as s, in UTC, without parsing the layout
// as time.Parse does (a verifier reads two such dates per request).
func ParseTime(layout, s string) (time.Time, bool) {
	var v [6]int // year, month, day, hour, minute, second
	v[1], v[2] = 1, 1
	i := 0
	for l := 0; l < len(layout); {
		field, width := -1, 2
		switch rest := layout[l:]; {
		case strings.HasPrefix(rest, "2006"):
			field, width = 0, 4
		case len(rest) < 2:
		case rest[0] == '0' && rest[1] == '1':
			field = 1
		case rest[0] == '0' && rest[1] == '2':
			field = 2
		case rest[0] == '1' && rest[1] == '5':
			field = 3
		case rest[0] == '0' && rest[1] == '4':
			field = 4
		case rest[0] == '0' && rest[1] == '5':
			field = 5
		}
		if field < 0 {
			if i >= len(s) || s[i] != layout[l] {
				return time.Time{}, false
			}
			i, l = i+1, l+1
			continue
		}
		if i+width > len(s) {
			return time.Time{}, false
		}
		n := 0
		for j := i; j < i+width; j++ {
			if !IsDigit(s[j]) {
				return time.Time{}, false
			}
			n = 10*n + int(s[j]-'0')
		}
		v[field] = n
		i, l = i+width, l+width
	}
	if i != len(s) || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, time.UTC)
	if t.Day() != v[2] { // the 31st of a 30-day month, the 29th of February of a common year
		return time.Time{}, false
	}
	return t, true
}

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
	"errors"
	"strings"
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
// signed one.
func ASCIILower(s string) string {
	i := 0
	for i < len(s) && !IsUpper(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if IsUpper(b[i]) {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

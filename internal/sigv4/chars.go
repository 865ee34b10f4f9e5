package sigv4

import "strings"

// The character classes and bounds Sign checks its request with: those of
// api/internal/hmacauth, which the verifier applies to what it receives.
// They are repeated here, not shared, because api/internal is closed to
// this package; FuzzSignVerify (api/aws/sigv4) fails if Sign lets through
// what the verifier refuses.

const (
	// maxMethod bounds the method; the longest standard one has 7 bytes.
	maxMethod = 32
	// maxHost bounds the host: a DNS name has at most 253 bytes; the rest
	// is room for a port or an IPv6 literal with a zone.
	maxHost = 300
)

// isToken reports whether s is 1 to max bytes, each passing ok.
func isToken(s string, max int, ok func(byte) bool) bool {
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

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// isHeaderNameByte is RFC 9110's tchar without upper-case letters.
func isHeaderNameByte(c byte) bool {
	return isDigit(c) || isLower(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isMethodByte is RFC 9110's tchar: a method is a token.
func isMethodByte(c byte) bool { return isHeaderNameByte(c) || isUpper(c) }

// isHostByte is what net/http's server lets into a Host header (RFC 3986
// reg-name, IP literal and port characters).
func isHostByte(c byte) bool {
	return isDigit(c) || isLower(c) || isUpper(c) || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0
}

// hasControl reports whether v holds a control byte other than tab: a line
// feed in a value could pass for the end of its line in a canonical request.
func hasControl(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// asciiLower lower-cases A-Z only: unlike strings.ToLower it maps no other
// byte (the Kelvin sign is not a k), so a non-ASCII name never matches a
// signed one.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !isUpper(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if isUpper(b[i]) {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

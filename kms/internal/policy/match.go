package policy

import (
	"unicode"
	"unicode/utf8"
)

// wildcardMatch reports whether s matches pattern, where * matches any run of
// characters (none included) and ? exactly one; there is no escape. With
// ignoreCase, characters compare as strings.EqualFold compares them.
//
// It backtracks only to the last *, so it runs in O(len(pattern) x len(s))
// time at worst, and never allocates. Each step spends one unit of b; when b
// runs out it returns false, and the caller must look at b. The pattern comes from a parsed policy
// and is valid UTF-8 without U+FFFD, so an invalid byte in s (decoded as
// U+FFFD) matches nothing but ? and *.
func wildcardMatch(pattern, s string, ignoreCase bool, b *budget) bool {
	if pattern == "*" {
		return true
	}
	px, sx := 0, 0
	starPx, starSx := -1, 0 // where the last * is, and where its match ends
	for px < len(pattern) || sx < len(s) {
		if !b.spend(1) {
			return false
		}
		if px < len(pattern) {
			pc, pn := utf8.DecodeRuneInString(pattern[px:])
			switch pc {
			case '*':
				starPx, starSx = px, sx
				px += pn
				continue
			case '?':
				if sx < len(s) {
					_, sn := utf8.DecodeRuneInString(s[sx:])
					px, sx = px+pn, sx+sn
					continue
				}
			default:
				if sx < len(s) {
					sc, sn := utf8.DecodeRuneInString(s[sx:])
					if pc == sc || ignoreCase && foldEqual(pc, sc) {
						px, sx = px+pn, sx+sn
						continue
					}
				}
			}
		}
		// Mismatch: let the last * take one more character, and retry.
		if starPx < 0 || starSx >= len(s) {
			return false
		}
		_, sn := utf8.DecodeRuneInString(s[starSx:])
		starSx += sn
		px, sx = starPx+1, starSx
	}
	return true
}

// budget bounds the work of one evaluation. A policy author controls the
// patterns and a caller the values they are matched against: a 32 KiB policy
// of patterns like "*aaaa...ab" against an 8 KiB encryption context value
// costs some 2^28 steps, half a second. Evaluate refuses, as ExplicitDeny, a
// request whose evaluation needs more than maxSteps.
type budget int

// maxSteps is a few milliseconds of matching, a thousand times what the
// policies of the tests need.
const maxSteps = 1 << 20

// spend takes n units and reports whether the budget still holds.
func (b *budget) spend(n int) bool {
	*b -= budget(n)
	return *b >= 0
}

// foldEqual reports whether a and b are equal under Unicode simple case
// folding, as strings.EqualFold compares runes.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	if b < a {
		a, b = b, a
	}
	if b < utf8.RuneSelf {
		return 'A' <= a && a <= 'Z' && b == a+'a'-'A'
	}
	r := unicode.SimpleFold(a)
	for r != a && r < b {
		r = unicode.SimpleFold(r)
	}
	return r == b
}

// asciiEqualFold reports whether a and b are equal when ASCII letters are
// folded to one case; other bytes must be equal.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Package hmacsha256 is HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869)
// for the request path: every request's signature check (SigV4, TC3) is an
// HMAC, and every ciphertext blob's key is an HKDF.
//
// It exists for two reasons, both measured. crypto/hmac allocates five
// objects per use (the HMAC, two SHA-256 states, the two padded keys), and
// crypto/hkdf sixteen per key (1.2 KB): a GenerateDataKey did 30 of its 127
// allocations there, and the garbage collector's work follows them; here,
// with messages up to maxInline bytes, nothing is allocated (HKDF of a blob
// key 1.2 µs → 0.5 µs). And crypto/hmac keeps its copies of the padded key
// where its caller cannot zero them: here they are on the stack and are
// zeroed before Sum returns, as the project zeroes every key buffer it owns.
//
// The construction is the RFCs' and nothing else, on crypto/sha256's
// Sum256: H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), with K the key padded with
// zeros to the block, or its hash if longer. TestRFC4231 and TestRFC5869
// check the RFCs' vectors, and FuzzSameAsStandardLibrary checks every
// input against crypto/hmac and crypto/hkdf; longer messages go to
// crypto/hmac itself.
package hmacsha256

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
)

const (
	// Size is the length of an HMAC-SHA256.
	Size      = sha256.Size
	blockSize = sha256.BlockSize
	// maxInline is the longest message hashed from the stack; a SigV4
	// string to sign is about 150 bytes.
	maxInline = 512
)

// Sum returns HMAC-SHA256(key, msg).
func Sum(key, msg []byte) [Size]byte {
	if len(msg) > maxInline {
		// Copies, so that key and msg do not escape through crypto/hmac's
		// interfaces: if they did, every caller's buffers would be on the
		// heap, the short messages' too.
		return long(bytes.Clone(key), bytes.Clone(msg))
	}
	var k [blockSize]byte
	if len(key) > blockSize {
		d := sha256.Sum256(key)
		copy(k[:], d[:])
		clear(d[:])
	} else {
		copy(k[:], key)
	}
	var buf [blockSize + maxInline]byte
	for i := range blockSize {
		buf[i] = k[i] ^ 0x36
	}
	n := blockSize + copy(buf[blockSize:], msg)
	inner := sha256.Sum256(buf[:n])
	for i := range blockSize {
		buf[i] = k[i] ^ 0x5c
	}
	copy(buf[blockSize:], inner[:])
	out := sha256.Sum256(buf[:blockSize+Size])
	clear(k[:])
	clear(buf[:n])
	clear(inner[:])
	return out
}

// long is Sum for a message longer than maxInline, by crypto/hmac.
func long(key, msg []byte) [Size]byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	var out [Size]byte
	h.Sum(out[:0])
	clear(key)
	clear(msg) // HKDF's Extract passes the secret as the message
	return out
}

// HKDF fills out with HKDF-SHA256(secret, salt, info): Extract, then Expand
// to len(out) bytes. out must be at most 255 × 32 bytes and info at most
// maxInline - 33 bytes long (it panics otherwise: a programming error, as
// the lengths are the caller's constants).
func HKDF(out, secret, salt, info []byte) {
	if len(out) > 255*Size || len(info) > maxInline-Size-1 {
		panic("hmacsha256: HKDF output or info too long")
	}
	prk := Sum(salt, secret)
	var buf [maxInline]byte
	var t [Size]byte
	for i, done := byte(1), 0; done < len(out); i++ {
		n := 0
		if i > 1 {
			n = copy(buf[:], t[:])
		}
		n += copy(buf[n:], info)
		buf[n] = i
		t = Sum(prk[:], buf[:n+1])
		done += copy(out[done:], t[:])
	}
	clear(prk[:])
	clear(buf[:])
	clear(t[:])
}

package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxBody is the largest request body any dialect accepts: 1 MiB.
const MaxBody = 1 << 20

// firstRead bounds the buffer a body is read into before its bytes arrive,
// which the body budget must cover from the first byte: 10,000 connections
// (serve's bound) sending headers only hold 40 MiB, under DefaultBodyBudget,
// so spending the budget takes bytes sent, not connections opened. A body
// up to 4 KiB is read into one buffer; an attested request (≈11 KiB from a
// Nitro enclave, base64 in JSON) is copied once, for 4 KiB.
const firstRead = 4 << 10

// readBody reads the whole body, refusing one over MaxBody before reading it
// whole: at once when Content-Length says so, else as soon as the limit is
// passed (ErrTooLarge). A body that cannot be read is ErrUnreadable. Its
// buffer takes its bytes from the process's budget for bodies being read
// (bodies) before it grows, and gives them back when readBody returns,
// whatever ends it (a panic too): a body the budget cannot cover is
// refused at once (ErrThrottled, LimitBody), its rest unread. Not held
// after: what an unauthenticated client could hold for long is a body it
// sends slowly; once read, the body is authenticated (≈1 ms per MiB hashed)
// and then dropped or given to an authenticated request.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, ErrTooLarge
	}
	hold := bodyHold{b: &bodies}
	defer hold.release()
	b, err := readAll(http.MaxBytesReader(w, r.Body, MaxBody), r.ContentLength, hold.grow)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errBodyBudget):
		return nil, &throttled{LimitBody}
	case errors.As(err, &mbe):
		return nil, ErrTooLarge
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return b, nil
}

// discardBody reads and drops r's body as readBody reads it (the same
// refusal past MaxBody, the same MaxBytesReader effect on the connection),
// without keeping it: for a request refused unchecked, whose body must be
// read only so that net/http answers it as it answers one that was.
func discardBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength <= MaxBody {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, MaxBody))
	}
}

// readAll is io.ReadAll, in one buffer when the body's length is known
// (size ≥ 0) and at most firstRead: a request's body is read into a buffer
// of its size, not grown to it from 512 bytes. A larger body's buffer grows
// as its bytes arrive: the length is the client's claim, and a client that
// declares a MiB and sends ten bytes, then stalls until the read timeout,
// must not hold a MiB of the server's memory per connection. A body of
// unknown length (size < 0) grows as one declared MaxBody long does.
//
// grow, if not nil, is told each capacity before a buffer of it is
// allocated, and its error stops the read (the body budget's, readBody).
func readAll(r io.Reader, size int64, grow func(capacity int) error) ([]byte, error) {
	if size < 0 {
		size = MaxBody
	}
	var b []byte
	for {
		if len(b) == cap(b) {
			// Twice the bytes that arrived, up to the declared size (and
			// past it only as a body longer than it declared needs: the
			// caller's MaxBytesReader bounds that): a body sent whole is
			// copied a few times, not a dozen (append grows large slices
			// by a quarter).
			want := min(int(size)+1, firstRead+1) // +1: room to read the EOF without growing
			if cap(b) > 0 {
				want = 2 * cap(b)
				if cap(b) < int(size)+1 {
					want = min(want, int(size)+1)
				}
			}
			if grow != nil {
				if err := grow(want); err != nil {
					return b, err
				}
			}
			grown := make([]byte, len(b), want)
			copy(grown, b)
			b = grown
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// RequestID returns a new random request id (a version 4 UUID).
func RequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

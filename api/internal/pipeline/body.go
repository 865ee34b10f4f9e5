package pipeline

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxBody is the largest request body any dialect accepts: 1 MiB.
const MaxBody = 1 << 20

// readBody reads the whole body, refusing one over MaxBody before reading it
// whole: at once when Content-Length says so, else as soon as the limit is
// passed (ErrTooLarge). A body that cannot be read is ErrUnreadable.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, ErrTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, ErrTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return b, nil
}

// RequestID returns a new random request id (a version 4 UUID).
func RequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

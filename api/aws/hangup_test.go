package aws

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/sigv4"
)

// TestHangUpIsNotLoggedAsAnError: a client that hangs up before its answer
// (its request's context is canceled: net/http does so when the connection
// closes) is the client's doing, not the server's. It must not cost an
// ERROR line ("internal error") in the server's log per request: any
// credential could otherwise write one per request at its whole budget
// (--rate-limit, 2000 a second by default), burying the server's real
// errors and filling the log's disk, by closing each connection right after
// sending a request (GenerateRandom needs no key and no permission).
func TestHangUpIsNotLoggedAsAnError(t *testing.T) {
	env := newEnv(t)
	for i := range 10 {
		body := []byte(`{"NumberOfBytes":32}`)
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Amz-Target", targetPrefix+"GenerateRandom")
		r.Header.Set("Amz-Sdk-Invocation-Id", strconv.Itoa(i))
		if err := sigv4.Sign(r, body, env.ak, []byte(env.sk), "us-east-1", "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(r.Context())
		cancel() // the client went away
		w := httptest.NewRecorder()
		env.e.ServeHTTP(w, r.WithContext(ctx))
	}
	if n := bytes.Count(env.logs.Bytes(), []byte("level=ERROR")); n > 0 {
		t.Fatalf("10 requests whose clients hung up wrote %d ERROR lines:\n%s", n, env.logs.Bytes())
	}
}

package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestReplaysDoNotSpendTheKeysBudget: an attacker who resends one captured
// signed request, used once already, while its time is still inside the
// signature's window, is refused as a replay without spending the victim's
// access key's budget (review finding: the key's token was taken before
// the replay check, so 50 replays throttled the victim's own requests on
// that node).
func TestReplaysDoNotSpendTheKeysBudget(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{RateLimit: 5})
	body := []byte(`{}`)
	request := func(signedAt time.Time) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		if err := sigv4.Sign(r, body, srv.AccessKey, []byte(srv.Secret), srv.Region, "kms", signedAt); err != nil {
			t.Fatal(err)
		}
		return r
	}
	send := func(r *http.Request, from string) *httptest.ResponseRecorder {
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		return w
	}
	// Signed 10 s ago: inside the skew, past replay.Grace, so a repeat is
	// a replay.
	captured := request(time.Now().Add(-10 * time.Second))
	if w := send(captured.Clone(captured.Context()), "192.0.2.10:1111"); w.Code != http.StatusOK {
		t.Fatalf("the victim's request: %d %s", w.Code, w.Body)
	}
	throttled := 0
	for i := range 50 {
		r := request(time.Now()) // headers replaced by the captured ones
		r.Header = captured.Header.Clone()
		w := send(r, "198.51.100.66:2222")
		switch {
		case w.Code == http.StatusOK:
			t.Fatalf("replay %d was served", i)
		case strings.Contains(w.Body.String(), "ThrottlingException"):
			throttled++
		}
	}
	if throttled > 0 {
		t.Errorf("%d of 50 replays were answered as over the key's budget, not as replays", throttled)
	}
	if w := send(request(time.Now()), "192.0.2.10:1111"); w.Code != http.StatusOK {
		t.Fatalf("the victim's fresh request after 50 replays: %d %s", w.Code, w.Body)
	}
}

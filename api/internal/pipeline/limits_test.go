package pipeline

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/internal/ratelimit"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/kms"
)

// TestSourceOverflowNeverRefuses: once the table of sources is full of
// spending addresses (a spray from many), a new address is not refused
// before authentication however much the shared overflow bucket has been
// charged; only an address's own spent bucket refuses it.
func TestSourceOverflowNeverRefuses(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := &Handler{limits: Limits{FailuresPerSource: ratelimit.New(0.1, 1, 3)}}
	for i := range 3 {
		src := fmt.Sprintf("198.51.100.%d", i)
		h.chargeSource(src, now)
		if !h.sourceSpent(src, now) {
			t.Fatalf("%s's own spent budget does not refuse it", src)
		}
	}
	// The spray goes on from addresses the table cannot hold: their
	// failures are charged to the overflow, far beyond its budget.
	for i := range 100 {
		h.chargeSource(fmt.Sprintf("203.0.113.%d", i), now)
	}
	if h.sourceSpent("192.0.2.1", now) {
		t.Fatal("a new address is refused before authentication for what the overflow was charged")
	}
	if !h.sourceSpent("198.51.100.0", now) {
		t.Fatal("an address with its own spent budget is served")
	}
}

// TestThrottledLoggedOnce: a request a budget refuses, its access key's or
// its source's, writes one log line (the request's own, at debug) and is
// counted once by the Observer; the access key's is counted for its key's
// summary, never an audit line of its own, and the source's, refused
// before anything costs, is not counted there at all.
func TestThrottledLoggedOnce(t *testing.T) {
	svc, cred, dir := newService(t)
	var logs strings.Builder
	obs := &recorder{}
	h := New(Options{Service: svc, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Replay: replay.New(time.Minute, 0), Observer: obs,
		Limits: Limits{PerKey: ratelimit.New(0.0001, 1, 0), FailuresPerSource: ratelimit.New(0.0001, 1, 0)}},
		servingDialect(&testAuth{}, Table{kms.ErrInternal: {Code: "Internal", Status: 500}, ErrThrottled: {Code: "Throttled", Status: 400},
			ErrMissing: {Code: "Missing", Status: 403}}))
	e := echo.New()
	send := func(source, authz, nonce string) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
		r.RemoteAddr = source + ":4242"
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		r.Header.Set("X-Secret", cred.SecretAccessKey)
		r.Header.Set("X-Nonce", nonce)
		w := httptest.NewRecorder()
		if err := h.Handle(e.NewContext(r, w)); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(w.Body.String())
	}
	oneLine := func(what string) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "outcome=throttled") || !strings.Contains(lines[0], "error_code=Throttled") {
			t.Errorf("%s: %d log lines; want one, the request's, throttled:\n%s", what, len(lines), logs.String())
		}
		logs.Reset()
	}

	key := "Test " + cred.AccessKeyID
	if code := send("192.0.2.1", key, "a"); code != `"served"` { // the key's one token
		t.Fatalf("the key's first request: %s", code)
	}
	logs.Reset()
	if code := send("192.0.2.1", key, "b"); code != "Throttled" {
		t.Fatalf("the key's second request: %s", code)
	}
	oneLine("throttled for its access key")

	if code := send("192.0.2.2", "", "c"); code != "Missing" { // the source's one token
		t.Fatalf("the source's first failure: %s", code)
	}
	logs.Reset()
	if code := send("192.0.2.2", "", "d"); code != "Throttled" {
		t.Fatalf("the spent source's request: %s", code)
	}
	oneLine("throttled for its source")

	if want := []string{LimitAccessKey, LimitSource}; !slices.Equal(obs.limits, want) {
		t.Errorf("the observer's throttled requests' limits: %q; want %q", obs.limits, want)
	}
	if want := []string{OutcomeOK, OutcomeThrottled, OutcomeAuthFailure, OutcomeThrottled}; !slices.Equal(obs.outcomes, want) {
		t.Errorf("the observer's outcomes: %q; want %q", obs.outcomes, want)
	}
	// The audit log: the key's throttled request in its summary line
	// (written at close), the spent source's in no line.
	svc.Close()
	b, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte(`"Throttled"`)); n != 1 || !bytes.Contains(b, []byte(`"reasons":{"Throttled":1}`)) {
		t.Errorf("the audit log names the throttling %d times; want once, in the key's summary counting it:\n%s", n, b)
	}
	if n := bytes.Count(b, []byte(`"source_ip":"192.0.2.2"`)); n != 1 {
		t.Errorf("%d audit lines for the spent source; want its one failure's summary:\n%s", n, b)
	}
}

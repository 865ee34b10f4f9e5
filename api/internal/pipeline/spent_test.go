package pipeline

import (
	"bytes"
	"context"
	"io"
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

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/ratelimit"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/kms"
)

// testAuth is a scheme for the pipeline's tests: "Authorization: Test
// <access key id>", and the secret itself in X-Secret. checks counts the
// requests it got as far as a real scheme's HMAC (an unknown key's too).
type testAuth struct{ checks int }

func (a *testAuth) AccessKeyID(r *http.Request) string {
	id, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Test ")
	return id
}

func (a *testAuth) Skew() time.Duration { return time.Minute }

func (a *testAuth) Authenticate(r *http.Request, body []byte, now time.Time, lookup hmacauth.SecretLookup) (*hmacauth.Result, error) {
	id := a.AccessKeyID(r)
	if id == "" {
		return nil, ErrMissing
	}
	a.checks++
	secret, ok := lookup(id)
	if !ok || r.Header.Get("X-Secret") != string(secret) {
		return nil, ErrSignature
	}
	return &hmacauth.Result{AccessKeyID: id, SignedAt: now, Signature: []byte(r.Header.Get("X-Nonce"))}, nil
}

// servingDialect is the dialect "d" for the pipeline's tests: auth
// authenticates, every request is the operation "Op", served "served", and
// an error is answered with its status and code in errs.
func servingDialect(auth Authenticator, errs Table) Dialect {
	return Dialect{
		Name:          "d",
		Authenticator: auth,
		Errors:        errs,
		Operation:     func(echo.Context) string { return "Op" },
		Route: func(echo.Context, string) (string, Operation, error) {
			return "", func(context.Context, *kms.Call, []byte) (*Result, error) { return OK("served") }, nil
		},
		ContentType: "application/json",
		WriteError: func(w http.ResponseWriter, _ string, wire WireError, _ string) error {
			w.WriteHeader(wire.Status)
			_, err := io.WriteString(w, wire.Code)
			return err
		},
	}
}

// readFlag is a body that says whether it was read.
type readFlag struct {
	io.Reader
	read *bool
}

func (b readFlag) Read(p []byte) (int, error) { *b.read = true; return b.Reader.Read(p) }

// TestSpentSourceChecksOnlyKnownKeys: once a source's budget for failures
// is spent, a request naming no access key, or one the server does not
// know, is refused unchecked (no body read, no signature check, not
// counted); one naming a known key is checked: served if its signature
// verifies, else answered as the unchecked ones are (the answer does not
// say the key exists) and counted in the source's summary, never a line of
// its own. It is counted as the authentication failure it is, by its own
// reason, in the metrics and the summary: not as the throttling the client
// is told. A source with budget left gets the usual answers.
func TestSpentSourceChecksOnlyKnownKeys(t *testing.T) {
	svc, cred, dir := newService(t)
	auth := &testAuth{}
	obs := &recorder{}
	h := New(Options{Service: svc, Logger: quiet, Replay: replay.New(time.Minute, 0), Observer: obs,
		Limits: Limits{FailuresPerSource: ratelimit.New(0.0001, 1, 0)}},
		servingDialect(auth, Table{kms.ErrInternal: {Code: "Internal", Status: 500}, ErrThrottled: {Code: "Throttled", Status: 400},
			ErrSignature: {Code: "Signature", Status: 403}, ErrMissing: {Code: "Missing", Status: 403}, ErrTooLarge: {Code: "TooLarge", Status: 413}}))
	e := echo.New()
	nonce := 0
	send := func(source, authz, secret string, length int64) (code string, read bool) {
		t.Helper()
		nonce++
		r := httptest.NewRequest(http.MethodPost, "/", readFlag{strings.NewReader(`{}`), &read})
		if length != 0 {
			r.ContentLength = length
		}
		r.RemoteAddr = source + ":4242"
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		r.Header.Set("X-Secret", secret)
		r.Header.Set("X-Nonce", strings.Repeat("n", nonce))
		w := httptest.NewRecorder()
		if err := h.Handle(e.NewContext(r, w)); err != nil {
			t.Fatal(err)
		}
		return w.Body.String(), read
	}
	const spent = "192.0.2.7"
	known, good := "Test "+cred.AccessKeyID, cred.SecretAccessKey

	if code, _ := send(spent, "", "", 0); code != "Missing" { // the budget's one token
		t.Fatalf("the first failure: %s", code)
	}
	for _, tc := range []struct {
		name, authz, secret string
		length              int64
		want                string
		checked             bool
	}{
		{"no authorization", "", "", 0, "Throttled", false},
		{"an unknown key", "Test AKIANOSUCHKEY", good, 0, "Throttled", false},
		{"a known key, a bad signature", known, "wrong", 0, "Throttled", true},
		{"a known key, a good signature", known, good, 0, `"served"`, true},
		{"a known key, a body too large", known, good, MaxBody + 1, "Throttled", false},
	} {
		checks := auth.checks
		code, read := send(spent, tc.authz, tc.secret, tc.length)
		// Every body is read, a known key's or not (net/http's behaviour
		// around the answer must not say which: a 100 Continue, a
		// connection kept), except one refused for its size; only a known
		// key's signature is checked.
		if strings.TrimSpace(code) != tc.want || (auth.checks > checks) != tc.checked || read != (tc.length <= MaxBody) {
			t.Errorf("%s from a spent source: %s, signature checked %v, body read %v; want %s, checked %v", tc.name, code, auth.checks > checks, read, tc.want, tc.checked)
		}
	}
	// Sources with budget left (a token each) are answered as ever.
	if code, _ := send("192.0.2.8", known, "wrong", 0); code != "Signature" {
		t.Errorf("a bad signature from another source: %s", code)
	}
	if code, _ := send("192.0.2.9", "Test AKIANOSUCHKEY", good, 0); code != "Signature" {
		t.Errorf("an unknown key from another source: %s", code)
	}
	if code, _ := send("192.0.2.10", known, good, MaxBody+1); code != "TooLarge" {
		t.Errorf("a body too large from another source: %s", code)
	}

	// The metrics: the known key's bad signature from the spent source is
	// an authentication failure, reason signature, though its client was
	// answered Throttled; only the requests refused for the source's budget
	// (unchecked, or a body refused unread) are throttled.
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"outcomes", obs.outcomes, []string{OutcomeAuthFailure, // the budget's one token
			OutcomeThrottled, OutcomeThrottled, OutcomeAuthFailure, OutcomeOK, OutcomeThrottled, // from the spent source
			OutcomeAuthFailure, OutcomeAuthFailure, OutcomeClientError}}, // from the others
		{"authentication failures' reasons", obs.reasons, []string{ReasonMissing, ReasonSignature, ReasonSignature, ReasonSignature}},
		{"throttled requests' limits", obs.limits, []string{LimitSource, LimitSource, LimitSource}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("the observer's %s: %q; want %q", c.what, c.got, c.want)
		}
	}

	// Counted: the spent source's first failure and its known key's bad
	// signature, in one summary line, each by its own code (the bad
	// signature's is Signature, not the Throttled its client got); nothing
	// refused unchecked.
	svc.Close()
	b, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte(`"source_ip":"` + spent + `","dialect":"d","operation":"FailedAuthentications","outcome":"error","message":"failed authentication","count":2,`)
	i := bytes.Index(b, prefix)
	if n := bytes.Count(b, []byte(`"source_ip":"`+spent+`"`)); n != 1 || i < 0 {
		t.Fatalf("%d lines for the spent source; want one summary counting 2:\n%s", n, b)
	}
	line, _, _ := bytes.Cut(b[i:], []byte("\n"))
	if !bytes.Contains(line, []byte(`"reasons":{"Missing":1,"Signature":1}`)) {
		t.Fatalf("the spent source's summary does not count its failures by their own codes:\n%s", line)
	}
}

// recorder is an Observer that keeps what it is told, in order.
type recorder struct{ outcomes, reasons, limits []string }

func (o *recorder) Request(_, _, outcome string, _ time.Duration) {
	o.outcomes = append(o.outcomes, outcome)
}
func (o *recorder) AuthFailure(_, reason string) { o.reasons = append(o.reasons, reason) }
func (o *recorder) Throttled(_, limit string)    { o.limits = append(o.limits, limit) }

// TestCancellationLoggedByWhoseItIs: an operation that ends canceled while
// its request's context is canceled (the client hung up) is logged at debug
// and counted canceled; one whose request is still live (a store's own
// deadline, which kms also calls canceled: PostgreSQL's connect_timeout) is
// an internal error, at ERROR and counted server_error — an unreachable
// database must not be hidden at debug nor among clients' cancellations.
func TestCancellationLoggedByWhoseItIs(t *testing.T) {
	svc, cred, _ := newService(t)
	var logs strings.Builder
	obs := &recorder{}
	h := New(Options{Service: svc, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Replay: replay.New(time.Minute, 0), Observer: obs}, Dialect{
		Name:          "d",
		Authenticator: &testAuth{},
		Errors:        Table{kms.ErrInternal: {Code: "Internal", Status: 500}, kms.ErrCanceled: {Code: "Canceled", Status: 500}},
		Operation:     func(echo.Context) string { return "Op" },
		Route: func(echo.Context, string) (string, Operation, error) {
			return "", func(context.Context, *kms.Call, []byte) (*Result, error) {
				return nil, &kms.Error{Kind: kms.ErrCanceled, Msg: "canceled"}
			}, nil
		},
		ContentType: "application/json",
		WriteError: func(w http.ResponseWriter, _ string, wire WireError, _ string) error {
			w.WriteHeader(wire.Status)
			return nil
		},
	})
	e := echo.New()
	send := func(ctx context.Context, nonce string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)).WithContext(ctx)
		r.Header.Set("Authorization", "Test "+cred.AccessKeyID)
		r.Header.Set("X-Secret", cred.SecretAccessKey)
		r.Header.Set("X-Nonce", nonce)
		if err := h.Handle(e.NewContext(r, httptest.NewRecorder())); err != nil {
			t.Fatal(err)
		}
	}
	send(context.Background(), "live")
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a cancellation of a live request was not logged as an error:\n%s", logs.String())
	}
	if want := []string{OutcomeServerError}; !slices.Equal(obs.outcomes, want) {
		t.Fatalf("a cancellation of a live request counted %q; want %q", obs.outcomes, want)
	}
	logs.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	send(ctx, "gone")
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a hang-up was logged as an error:\n%s", logs.String())
	}
	if want := []string{OutcomeServerError, OutcomeCanceled}; !slices.Equal(obs.outcomes, want) {
		t.Fatalf("a hang-up after a live request's cancellation counted %q; want %q", obs.outcomes, want)
	}
}

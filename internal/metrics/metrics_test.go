package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// TestResult: every attest kind has a result label of its own.
func TestResult(t *testing.T) {
	seen := map[string]bool{"ok": true}
	if Result(nil) != "ok" || Result(errors.New("odd")) != "other" {
		t.Fatal("nil or a stranger error")
	}
	for _, k := range attest.Kinds {
		r := Result(fmt.Errorf("%w: detail", k))
		if r == "other" || seen[r] {
			t.Errorf("%v: result %q", k, r)
		}
		seen[r] = true
	}
}

type fakeVerifier struct {
	claims *attest.Claims
	err    error
}

func (f *fakeVerifier) Verify([]byte, time.Time) (*attest.Claims, error) { return f.claims, f.err }

type logs struct{ lines []string }

func (l *logs) Println(v ...any) { l.lines = append(l.lines, fmt.Sprint(v...)) }

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestCollectors: a verification is counted by the claims' format, or the
// refused evidence's shape; the key states and caches are read at scrape
// time, and a failing key count leaves its series out, not the scrape.
func TestCollectors(t *testing.T) {
	m := New()
	fv := &fakeVerifier{claims: &attest.Claims{Format: attest.FormatQingtian}}
	v := m.Verifier(fv)
	v.Verify([]byte{0x84}, time.Now())
	fv.claims, fv.err = nil, fmt.Errorf("%w: bad", attest.ErrChain)
	v.Verify([]byte{0x84}, time.Now())
	v.Verify([]byte("junk"), time.Now())
	m.Request("aws", "Encrypt", "ok", time.Millisecond)
	m.AuthFailure("huawei", "expired")
	m.Throttled("tencent", "access_key")
	m.AuditBytes().Add(42)

	var keysErr error
	entries := 3
	m.WatchKeys(func(context.Context) (map[string]int, error) {
		return map[string]int{"Enabled": 2, "Disabled": 1}, keysErr
	})
	m.WatchCaches(map[string]func() int{"nitro": func() int { return entries }})
	l := &logs{}
	h := m.Handler(false, l)
	code, body := scrape(t, h, "/metrics")
	for _, want := range []string{
		`attestkms_attestation_verifications_total{format="qingtian",result="ok"} 1`,
		`attestkms_attestation_verifications_total{format="cose-sign1",result="chain"} 1`,
		`attestkms_attestation_verifications_total{format="unknown",result="chain"} 1`,
		`attestkms_requests_total{dialect="aws",operation="Encrypt",outcome="ok"} 1`,
		`attestkms_request_duration_seconds_count{dialect="aws",operation="Encrypt"} 1`,
		`attestkms_auth_failures_total{dialect="huawei",reason="expired"} 1`,
		`attestkms_throttled_total{dialect="tencent",limit="access_key"} 1`,
		`attestkms_audit_bytes_total 42`,
		`attestkms_keys{state="Enabled"} 2`,
		`attestkms_keys{state="Disabled"} 1`,
		`attestkms_cache_entries{cache="nitro"} 3`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want+"\n") {
			t.Errorf("no %s in:\n%s", want, body)
		}
	}
	entries, keysErr = 4, errors.New("store closed")
	code, body = scrape(t, h, "/metrics")
	if code != http.StatusOK || strings.Contains(body, "attestkms_keys{") || !strings.Contains(body, `attestkms_cache_entries{cache="nitro"} 4`) {
		t.Errorf("a failing collector: %d\n%s", code, body)
	}
	if len(l.lines) == 0 || !strings.Contains(strings.Join(l.lines, "\n"), "store closed") {
		t.Errorf("the failure was not logged: %q", l.lines)
	}
	if code, _ := scrape(t, h, "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("profiles without pprof: %d", code)
	}
	if code, _ := scrape(t, m.Handler(true, l), "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("profiles with pprof: %d", code)
	}
}

// BenchmarkRequest is what the metrics cost a request: its counter and
// its duration.
func BenchmarkRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Request("aws", "GenerateDataKey", "ok", 70*time.Microsecond)
	}
}

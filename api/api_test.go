package api_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/kms"
)

// TestProbes: /healthz is liveness, 200 while the process serves; /readyz
// is 200 while the service is ready (its store answers) and 503 once it is
// not, without saying why to the unauthenticated prober.
func TestProbes(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	probe := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := probe(path); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	srv.Service.Close()
	if code, body := probe("/readyz"); code != http.StatusServiceUnavailable || body != "not ready\n" {
		t.Errorf("/readyz of a closed service: %d %q", code, body)
	}
	if code, _ := probe("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz of a closed service: %d", code)
	}
}

// TestNotReadyLogBounded: /readyz is unauthenticated, so while the server
// is not ready a prober must not get a WARN line written per probe: the
// first refusal is logged, then at most one line every readyLogEvery,
// counting the probes refused since.
func TestNotReadyLogBounded(t *testing.T) {
	var logs bytes.Buffer
	srv := testserver.Start(t, testserver.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv.Service.Close()
	for range 50 {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz of a closed service: %d", resp.StatusCode)
		}
	}
	if n := strings.Count(logs.String(), "not ready"); n != 1 {
		t.Fatalf("50 refused probes wrote %d lines:\n%s", n, logs.String())
	}
}

// TestServiceKeyEndpoint: GET /service-key, unauthenticated, serves the
// service's answer-signing keys as `attestkms service-key` prints them.
func TestServiceKeyEndpoint(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	resp, err := http.Get(srv.URL + "/service-key")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	keys, err := answer.ParsePEM(b)
	want := srv.Service.ServiceKeys()
	if resp.StatusCode != http.StatusOK || err != nil || len(keys) != 1 || len(want) != 1 || answer.Fingerprint(keys[0]) != want[0].ID {
		t.Fatalf("GET /service-key: %d, %v, %q", resp.StatusCode, err, b)
	}
	if !bytes.Equal(b, kms.FormatServiceKeys(want)) {
		t.Fatalf("GET /service-key is not what attestkms service-key prints: %q", b)
	}
}

package api_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/attestkms/attestkms/internal/testserver"
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

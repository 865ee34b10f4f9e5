package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestRefusalsDoNotAmplify: a signed request that is refused for a member
// name or value it chose (a 30,000-byte unknown member nested in Tencent's
// Recipient, a 30,000-byte AWS KeyPairSpec) gets an answer and an audit
// line of bounded size, not one as large as what it sent (review finding:
// each request added its 30 KB to the audit log and the answer; one
// credential at 827 requests a second wrote 26 MB/s of audit).
func TestRefusalsDoNotAmplify(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	logPath := filepath.Join(srv.DataDir, "audit.log")
	huge := strings.Repeat("A", 30000)
	for _, tc := range []struct {
		name    string
		request func(now time.Time) *http.Request
		refusal string
	}{
		{"tencent nested unknown member", func(now time.Time) *http.Request {
			body := []byte(`{"NumberOfBytes":16,"Recipient":{"` + huge + `":1}}`)
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-TC-Action", "GenerateRandom")
			r.Header.Set("X-TC-Version", "2019-01-18")
			r.Header.Set("X-TC-Region", "ap-guangzhou")
			if err := tc3.Sign(r, body, srv.AccessKey, []byte(srv.Secret), "kms", now); err != nil {
				t.Fatal(err)
			}
			return r
		}, "UnknownParameter"},
		{"aws KeyPairSpec", func(now time.Time) *http.Request {
			body := []byte(`{"KeyId":"alias/x","KeyPairSpec":"` + huge + `"}`)
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.GenerateDataKeyPairWithoutPlaintext")
			if err := sigv4.Sign(r, body, srv.AccessKey, []byte(srv.Secret), srv.Region, "kms", now); err != nil {
				t.Fatal(err)
			}
			return r
		}, "ValidationException"},
	} {
		if err := srv.Service.AuditLog().Flush(); err != nil {
			t.Fatal(err)
		}
		before := fileSize(t, logPath)
		r := tc.request(time.Now())
		r.RemoteAddr = "192.0.2.50:4242"
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		if !strings.Contains(w.Body.String(), tc.refusal) {
			t.Fatalf("%s: want %s, got %d %.300s", tc.name, tc.refusal, w.Code, w.Body)
		}
		if n := w.Body.Len(); n > 2048 {
			t.Errorf("%s: the answer is %d bytes: %.200s…", tc.name, n, w.Body)
		}
		if err := srv.Service.AuditLog().Flush(); err != nil {
			t.Fatal(err)
		}
		if grew := fileSize(t, logPath) - before; grew == 0 || grew > 2048 {
			t.Errorf("%s: the audit log grew by %d bytes (want a line, under 2 KiB)", tc.name, grew)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestUnauthenticatedFlood: 100,000 requests that fail authentication —
// bad signatures, unknown keys, none at all, through the three dialects,
// from three sources — through the real handler add at most a few summary
// lines to the audit log (one per source and interval), which count them
// all, and no line of their own.
func TestUnauthenticatedFlood(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	logPath := filepath.Join(srv.DataDir, "audit.log")
	fi, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	before := fi.Size()
	start := time.Now()
	date := start.UTC().Format("20060102T150405Z")
	day := date[:8]
	sources := []string{"192.0.2.1", "192.0.2.2", "[2001:db8::1]"}
	requests := []func() *http.Request{
		func() *http.Request { // AWS, signed by a key that does not exist
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Date", date)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNUNKNOWN12/"+day+"/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64))
			return r
		},
		func() *http.Request { // AWS, the server's own key, a bad signature
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			r.Header.Set("X-Amz-Target", "TrentService.CreateKey")
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Date", date)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+srv.AccessKey+"/"+day+"/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("1", 64))
			return r
		},
		func() *http.Request { // Huawei, unsigned
			return httptest.NewRequest(http.MethodPost, "/v1.0/"+srv.Account.ProjectID+"/kms/list-keys", strings.NewReader(`{}`))
		},
		func() *http.Request { // Tencent, unsigned
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			r.Header.Set("X-TC-Action", "ListKeys")
			r.Header.Set("Content-Type", "application/json")
			return r
		},
	}
	const n = 100000
	for i := range n {
		r := requests[i%len(requests)]()
		r.RemoteAddr = sources[i%len(sources)] + ":4242"
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		if w.Code == http.StatusOK && i%len(requests) != 3 || w.Code == http.StatusOK && !bytes.Contains(w.Body.Bytes(), []byte("AuthFailure")) {
			t.Fatalf("request %d was not refused: %d %s", i, w.Code, w.Body)
		}
	}
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	added := bytes.Split(bytes.TrimSuffix(b[before:], []byte("\n")), []byte("\n"))
	// One line per source per summary interval (10 s) the flood lasted.
	intervals := int(time.Since(start)/(10*time.Second)) + 2
	if len(added) > len(sources)*intervals {
		t.Fatalf("%d requests added %d lines to the audit log", n, len(added))
	}
	total := 0
	for _, line := range added {
		var rec struct {
			Operation string         `json:"operation"`
			SourceIP  string         `json:"source_ip"`
			Count     int            `json:"count"`
			Dialects  []string       `json:"dialects"`
			Reasons   map[string]int `json:"reasons"`
		}
		if err := json.Unmarshal(line, &rec); err != nil || rec.Operation != "FailedAuthentications" || len(rec.Dialects) != 3 || len(rec.Reasons) < 3 {
			t.Fatalf("not a summary of failed authentications: %s", line)
		}
		total += rec.Count
	}
	if total != n {
		t.Fatalf("the summaries count %d failures; want %d", total, n)
	}
	t.Log(fmt.Sprintf("%d unauthenticated requests: %d summary lines, %d bytes, in %v", n, len(added), len(b)-int(before), time.Since(start).Round(time.Millisecond)))
}

// TestIPv6HostFailuresSummarised: one IPv6 host, which holds its /64 whole
// (the budget for failures, --auth-failure-limit, counts it as one source
// for that reason), gets one summary line of failed authentications per
// interval, like an IPv4 host. Sending each failure from another address of
// its /64, within the /64's budget (20 a second, bursts of 40: serve's
// default), must not buy it a line of the audit log per failure: 20 lines a
// second, forever, from one unauthenticated host (up to the table's 1024
// lines per 10 s with a few /64s), where an IPv4 host gets one per 10 s.
func TestIPv6HostFailuresSummarised(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{AuthFailureLimit: 20})
	logPath := filepath.Join(srv.DataDir, "audit.log")
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40 // the /64's burst: none of them is refused unchecked
	for i := range n {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
		r.Header.Set("X-TC-Action", "ListKeys")
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = fmt.Sprintf("[2001:db8:1:2::%x]:4242", i+1)
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		if !bytes.Contains(w.Body.Bytes(), []byte("AuthFailure")) {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(b[fi.Size():], []byte(`"operation":"FailedAuthentications"`))
	if lines != 1 {
		t.Fatalf("%d failures from one /64 within its budget wrote %d summary lines (%d bytes); want 1", n, lines, len(b)-int(fi.Size()))
	}
}

// TestNeighbourCannotLockOutAValidClient: the budget for failures
// (--auth-failure-limit) is kept per source address, an IPv6 /64 counting
// as one. Addresses are shared by hosts that are not one another's: every
// client behind a NAT (a cloud NAT gateway: the enclaves of a private
// subnet), every VM of a GCP subnet (each gets a /96 of the subnet's /64).
// A hostile neighbour that sends 40 unsigned requests (serve's burst, then
// 20 a second) must not get a correctly signed request of another client
// refused unchecked: the budget is for failures, and this client fails
// nothing.
func TestNeighbourCannotLockOutAValidClient(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{AuthFailureLimit: 20})
	for _, tc := range []struct{ name, attacker, client string }{
		{"ipv4 nat", "198.51.100.7:1111", "198.51.100.7:2222"},
		{"ipv6 subnet", "[2001:db8:5:6::a]:1111", "[2001:db8:5:6::b]:2222"},
	} {
		for range 41 {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
			r.RemoteAddr = tc.attacker
			srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
		}
		body := []byte(`{}`)
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		if err := sigv4.Sign(r, body, srv.AccessKey, []byte(srv.Secret), "us-east-1", "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = tc.client
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("%s: a correctly signed request from %s, after a neighbour's 41 unsigned ones: %d %s", tc.name, tc.client, w.Code, w.Body)
		}
	}
}

// TestSpentSourceChecksOnlyKnownKeys: once a source has spent its budget
// for failures, in each dialect, a request signed with a key the server
// knows is checked and served; one signed with an unknown key, unsigned,
// or with an Authorization header that does not parse, is refused
// unchecked and not counted; one naming a known key whose signature is
// wrong gets the same answer (it does not say that the key exists), and is
// counted in the source's one summary line.
func TestSpentSourceChecksOnlyKnownKeys(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{AuthFailureLimit: 20})
	const source = "198.51.100.9:4242"
	for range 40 { // the source's burst
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
		r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		r.RemoteAddr = source
		srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	body := []byte(`{}`)
	now := time.Now()
	for _, d := range []struct {
		name      string
		request   func() *http.Request
		sign      func(r *http.Request, ak, secret string) error
		throttled string
	}{
		{"aws", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
			return r
		}, func(r *http.Request, ak, secret string) error {
			return sigv4.Sign(r, body, ak, []byte(secret), srv.Region, "kms", now)
		}, "ThrottlingException"},
		{"huawei", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1.0/"+srv.Account.ProjectID+"/kms/list-keys", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json;charset=UTF-8")
			r.Header.Set("X-Project-Id", srv.Account.ProjectID)
			return r
		}, func(r *http.Request, ak, secret string) error {
			return sdkhmac.Sign(r, body, ak, []byte(secret), now)
		}, "APIG.0308"},
		{"tencent", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-TC-Action", "ListKeys")
			r.Header.Set("X-TC-Version", "2019-01-18")
			r.Header.Set("X-TC-Region", "ap-guangzhou")
			return r
		}, func(r *http.Request, ak, secret string) error {
			return tc3.Sign(r, body, ak, []byte(secret), "kms", now)
		}, "RequestLimitExceeded"},
	} {
		send := func(what string, prepare func(r *http.Request) error) (int, string) {
			t.Helper()
			r := d.request()
			if err := prepare(r); err != nil {
				t.Fatalf("%s, %s: %v", d.name, what, err)
			}
			r.RemoteAddr = source
			w := httptest.NewRecorder()
			srv.Handler.ServeHTTP(w, r)
			// The request id is the only part of an answer that differs:
			// in a header (AWS, Huawei) or the body (Tencent).
			b, _, _ := strings.Cut(w.Body.String(), `"RequestId"`)
			return w.Code, strings.ReplaceAll(b, w.Header().Get(map[string]string{"aws": "X-Amzn-RequestId", "huawei": "X-Request-Id"}[d.name]), "")
		}
		code, unchecked := send("unsigned", func(*http.Request) error { return nil })
		if !strings.Contains(unchecked, d.throttled) {
			t.Fatalf("%s: an unsigned request from the spent source: %d %s", d.name, code, unchecked)
		}
		for _, tc := range []struct {
			what    string
			prepare func(r *http.Request) error
		}{
			{"an unknown key", func(r *http.Request) error { return d.sign(r, "AKIAUNKNOWNUNKNOWN12", srv.Secret) }},
			{"an unparseable authorization", func(r *http.Request) error {
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+srv.AccessKey)
				return nil
			}},
			{"the server's key, a wrong secret", func(r *http.Request) error {
				return d.sign(r, srv.AccessKey, "not-the-secret-not-the-secret-not-the-se")
			}},
		} {
			c, b := send(tc.what, tc.prepare)
			if c != code || b != unchecked {
				t.Errorf("%s, %s, from the spent source: %d %s; want %d %s", d.name, tc.what, c, b, code, unchecked)
			}
		}
		if c, b := send("the server's key", func(r *http.Request) error { return d.sign(r, srv.AccessKey, srv.Secret) }); c != http.StatusOK || strings.Contains(b, `"Error"`) {
			t.Errorf("%s: a correctly signed request from the spent source: %d %s", d.name, c, b)
		}
	}
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	// One summary: the 40 that spent the budget, and the three wrong
	// secrets (through three dialects: the summary names none).
	if n := bytes.Count(b, []byte(`"operation":"FailedAuthentications"`)); n != 1 || !bytes.Contains(b, []byte(`"source_ip":"198.51.100.9","dialect":"","operation":"FailedAuthentications","outcome":"error","message":"failed authentication","count":43,`)) {
		t.Fatalf("%d summaries of failed authentications; want one for the spent source counting 43:\n%s", n, b)
	}
}

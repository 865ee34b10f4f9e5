package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestSpentSourceAnswerDoesNotNameKnownKeys (review 2, natfix): from a
// source whose budget for failures is spent, a request naming an unknown
// access key is answered without its body being read, and one naming a
// known key has its body read before it is answered. The answer's bytes
// are the same, but what the HTTP server does around them is not, and a
// prober sees it on the wire, with no timing:
//
//   - Expect: 100-continue: the known key gets "HTTP/1.1 100 Continue"
//     (the body is wanted), the unknown key the final answer at once,
//     with "Connection: close";
//   - a body of 300 KiB, sent whole: the unknown key's answer says
//     "Connection: close" (net/http drains at most 256 KiB of a body the
//     handler left), the known key's keeps the connection.
//
// Each of these tells which access key ids exist, which the design says an
// answer never does (an unknown access key and a bad signature get the same
// answer), and which a source with budget left cannot learn (both are read).
func TestSpentSourceAnswerDoesNotNameKnownKeys(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{AuthFailureLimit: 0.2})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// spend spends 127.0.0.1's budget (a burst of 1, then a token every
	// 5 s): before each probe, so that a slow machine does not refill it.
	spend := func() {
		t.Helper()
		for range 3 {
			resp, err := http.Post(srv.URL+"/", "application/x-amz-json-1.1", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	const unknown = "AKIAUNKNOWNUNKNOWN12"
	wrong := []byte("not-the-secret-not-the-secret-not-the-se")
	dialects := []struct {
		name string
		path string
		hdr  map[string]string
		sign func(r *http.Request, body []byte, ak string) error
	}{
		{"aws", "/", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"},
			func(r *http.Request, body []byte, ak string) error {
				return sigv4.Sign(r, body, ak, wrong, srv.Region, "kms", time.Now())
			}},
		{"huawei", "/v1.0/" + srv.Account.ProjectID + "/kms/list-keys", map[string]string{"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": srv.Account.ProjectID},
			func(r *http.Request, body []byte, ak string) error {
				return sdkhmac.Sign(r, body, ak, wrong, time.Now())
			}},
		{"tencent", "/", map[string]string{"Content-Type": "application/json", "X-TC-Action": "ListKeys", "X-TC-Version": "2019-01-18", "X-TC-Region": "ap-guangzhou"},
			func(r *http.Request, body []byte, ak string) error {
				return tc3.Sign(r, body, ak, wrong, "kms", time.Now())
			}},
	}
	// head is the request's head as a client sends it, signed with a wrong
	// secret over body, by ak, plus extra header lines.
	head := func(d int, ak string, body []byte, extra string) string {
		t.Helper()
		r, err := http.NewRequest(http.MethodPost, srv.URL+dialects[d].path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range dialects[d].hdr {
			r.Header.Set(k, v)
		}
		if err := dialects[d].sign(r, body, ak); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s", dialects[d].path, u.Host, len(body), extra)
		r.Header.Write(&b)
		b.WriteString("\r\n")
		return b.String()
	}
	// probe sends raw and reads, for up to wait, the status line and the
	// Connection header of the first response.
	probe := func(raw string, body []byte, wait time.Duration) (status, connection string) {
		t.Helper()
		spend()
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		go c.Write(body)
		c.SetReadDeadline(time.Now().Add(wait))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			return "no answer within " + wait.String(), ""
		}
		for {
			h, err := br.ReadString('\n')
			if err != nil || h == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Connection") {
				connection = strings.TrimSpace(v)
			}
		}
		return strings.TrimSpace(line), connection
	}
	for d := range dialects {
		name := dialects[d].name
		small := []byte(`{}`)
		big := bytes.Repeat([]byte(" "), 300<<10)
		for _, tc := range []struct {
			what  string
			extra string
			body  []byte // what is sent after the head
			sized []byte // what Content-Length and the signature cover
		}{
			{"expect 100-continue", "Expect: 100-continue\r\n", nil, small},
			{"300 KiB body", "", big, big},
		} {
			us, uc := probe(head(d, unknown, tc.sized, tc.extra), tc.body, 2*time.Second)
			ks, kc := probe(head(d, srv.AccessKey, tc.sized, tc.extra), tc.body, 2*time.Second)
			if us != ks || uc != kc {
				t.Errorf("%s, %s, from a spent source: an unknown key gets %q (Connection %q), the server's key with a wrong secret %q (Connection %q)", name, tc.what, us, uc, ks, kc)
			}
		}
	}
}

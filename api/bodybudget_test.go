package api_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// TestStalledBodiesBudget (review, MEDIUM): the review's request, an
// unauthenticated POST / for TrentService.Decrypt declaring a body of
// 1 MiB, sending most of it and stalling, held its MiB until ReadTimeout on
// every connection (300 raised RSS by 300 MB). With BodyBudget at its
// least (one such body), the next one is answered at once with AWS's
// throttling error instead of being read, and once the first client goes
// away its bytes come back: the next request reaches authentication.
func TestStalledBodiesBudget(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := kms.Init(kms.Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	t.Cleanup(func() { pipeline.SetBodyBudget(0) })
	srv := httptest.NewServer(api.New(api.Options{Service: svc, BodyBudget: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()

	// send opens a connection, sends a Decrypt's headers declaring
	// declared bytes and sent bytes of the body, and stalls.
	send := func(declared, sent int) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		head := "POST / HTTP/1.1\r\nHost: kms\r\nX-Amz-Target: TrentService.Decrypt\r\nContent-Type: application/x-amz-json-1.1\r\n" +
			"Content-Length: " + strconv.Itoa(declared) + "\r\n\r\n"
		if _, err := io.WriteString(c, head+strings.Repeat("a", sent)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	answer := func(c net.Conn, within time.Duration) (status int, body string, ok bool) {
		c.SetReadDeadline(time.Now().Add(within))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, "", false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), true
	}

	// Until the server has read the first body's bytes (its buffer holds
	// the budget), a second may be read too, and on a loaded machine the
	// two may race for the budget so that the first is the one refused:
	// try again, a new first and a new second, each time waiting longer
	// for the first to be read.
	var first net.Conn
	defer func() { first.Close() }() // else srv.Close waits for its body
	for try := 0; ; try++ {
		if first != nil {
			first.Close()
		}
		first = send(1<<20, 700<<10)
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
		second := send(1<<20, 700<<10)
		start := time.Now()
		status, body, ok := answer(second, time.Second)
		second.Close()
		if ok {
			if status != http.StatusBadRequest || !strings.Contains(body, "ThrottlingException") {
				t.Fatalf("a second stalled body: %d %s", status, body)
			}
			t.Logf("a second stalled body refused after %v", time.Since(start))
			break
		}
		if try == 4 {
			t.Fatal("a second stalled body was read, not refused, while the first held the budget")
		}
	}
	first.Close() // the client goes away: its bytes come back
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := send(2, 2)
		status, body, ok := answer(c, 2*time.Second)
		c.Close()
		if !ok {
			t.Fatal("a small request was not answered")
		}
		if !strings.Contains(body, "ThrottlingException") {
			if status != http.StatusForbidden || !strings.Contains(body, "MissingAuthenticationToken") {
				t.Fatalf("a small unsigned request: %d %s", status, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the budget was not returned when the stalled client went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

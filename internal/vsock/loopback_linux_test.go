//go:build linux

package vsock

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLoopbackHTTP: HTTP over a real vsock connection, where the kernel
// offers vsock loopback (CID 1, the vsock_loopback module); skipped, saying
// so, where it does not (a VM whose vsock reaches only its host).
func TestLoopbackHTTP(t *testing.T) {
	l, err := Listen(unix.VMADDR_PORT_ANY)
	if err != nil {
		t.Skipf("no AF_VSOCK here: %v", err)
	}
	defer l.Close()
	port := l.Addr().(Addr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Dial(ctx, Addr{CID: CIDLocal, Port: port})
	if err != nil {
		t.Skipf("no vsock loopback to dial (modprobe vsock_loopback): %v", err)
	}
	c.Close()

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over vsock: "+r.Host)
	})}
	go srv.Serve(l)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return Dial(ctx, Addr{CID: CIDLocal, Port: port})
	}}}
	resp, err := hc.Get("http://kms.test/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "over vsock: kms.test" {
		t.Fatalf("answer %q", b)
	}
}

// TestDialCanceled: a dial nobody answers ends with its context, as a TCP
// dial does, whatever the kernel's vsock (a CID no one has, or none).
func TestDialCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, Addr{CID: 0x7ffffff0, Port: 9})
	if err == nil {
		c.Close()
		t.Skip("something answered at an unused CID")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the dial took %v past its 300 ms context: %v", d, err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Net != "vsock" {
		t.Fatalf("error %v is not a vsock *net.OpError", err)
	}
}

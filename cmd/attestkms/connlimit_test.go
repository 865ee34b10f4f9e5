package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// acceptAll serves ln by keeping every accepted connection open until the
// test ends (or the test closes it: each is sent on the channel); it sends
// each a byte, so that a client knows it was kept.
func acceptAll(t *testing.T, ln net.Listener) <-chan net.Conn {
	served := make(chan net.Conn, 64)
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{1})
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			served <- c
		}
	}()
	return served
}

// kept reports whether the server kept the connection: it got the server's
// byte, not an EOF.
func kept(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err == nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConnLimitPerSource: one source keeps at most its bound of
// connections open; the next is closed at once, and a place given back
// (a connection closed) is taken again.
func TestConnLimitPerSource(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	served := acceptAll(t, limitConns(raw, 2, 0, slog.New(slog.DiscardHandler)))
	a, b := dial(t, raw.Addr().String()), dial(t, raw.Addr().String())
	if !kept(t, a) || !kept(t, b) {
		t.Fatal("connections within the bound were not kept")
	}
	if kept(t, dial(t, raw.Addr().String())) {
		t.Fatal("a third connection from one source was kept past its bound of 2")
	}
	// The server closes one: its place is free again.
	first := <-served
	first.Close()
	first.Close() // twice: one place given back
	if !kept(t, dial(t, raw.Addr().String())) {
		t.Fatal("a connection was refused after one of the two closed")
	}
	if kept(t, dial(t, raw.Addr().String())) {
		t.Fatal("closing one connection twice gave back two places")
	}
}

// TestConnLimitTotal: the bound in all holds whatever the sources.
func TestConnLimitTotal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	acceptAll(t, limitConns(raw, 0, 3, slog.New(slog.DiscardHandler)))
	for i := range 3 {
		if !kept(t, dial(t, raw.Addr().String())) {
			t.Fatalf("connection %d within the bound was not kept", i)
		}
	}
	if kept(t, dial(t, raw.Addr().String())) {
		t.Fatal("a fourth connection was kept past the bound of 3")
	}
}

// TestConnSource: IPv4 addresses count alone, IPv6 addresses by their /64
// (one host holds its /64 whole), IPv4-mapped IPv6 as IPv4.
func TestConnSource(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.1:443", "192.0.2.1"},
		{"[2001:db8:1:2::5]:443", "2001:db8:1:2::"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::"},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1"},
	} {
		a, _ := net.ResolveTCPAddr("tcp", c.addr)
		if got := connSource(a); got != netip.MustParseAddr(c.want) {
			t.Errorf("%s counts as %s; want %s", c.addr, got, c.want)
		}
	}
}

// TestConnLimitLogBounded: refusals are logged at most once a minute, so
// that a client opening connections past its bound cannot write a WARN
// line per connection.
func TestConnLimitLogBounded(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var logs syncBuffer // the listener's goroutine logs, the test reads
	acceptAll(t, limitConns(raw, 1, 0, slog.New(slog.NewTextHandler(&logs, nil))))
	if !kept(t, dial(t, raw.Addr().String())) {
		t.Fatal("a connection within the bound was not kept")
	}
	for i := range 10 {
		if kept(t, dial(t, raw.Addr().String())) {
			t.Fatalf("connection %d past the bound of 1 was kept", i)
		}
	}
	if n := strings.Count(logs.String(), "refused connections"); n != 1 {
		t.Fatalf("10 refused connections wrote %d lines:\n%s", n, logs.String())
	}
}

// limitedServer serves HTTP on a limited loopback listener: GET /slow
// answers once release is closed (a connection busy with a request), any
// other path at once. idle counts its connections idle between requests,
// as the server reports them.
type limitedServer struct {
	addr    string
	release chan struct{}

	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

func newLimitedServer(t *testing.T, perSource, total int) *limitedServer {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(raw, perSource, total, slog.New(slog.DiscardHandler))
	s := &limitedServer{addr: raw.Addr().String(), release: make(chan struct{}), state: map[net.Conn]http.ConnState{}}
	hook := connStateHook(ln)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-s.release
			}
			io.WriteString(w, "ok")
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, st http.ConnState) {
			if hook != nil {
				hook(c, st)
			}
			s.mu.Lock()
			s.state[c] = st
			s.mu.Unlock()
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		srv.Close()
	})
	return s
}

// waitFor waits until n connections are in state st.
func (s *limitedServer) waitFor(t *testing.T, st http.ConnState, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		got := 0
		for _, v := range s.state {
			if v == st {
				got++
			}
		}
		s.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections %s, want %d", got, st, n)
		}
	}
}

// dialFrom opens a connection from a loopback address of its own (Linux
// routes all of 127.0.0.0/8 to lo), so that each counts as a source.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends GET path on c, keep-alive, and reads the answer.
func roundTrip(c net.Conn, path string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: kms\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// closed reports whether the server closed c (it reads EOF or a reset).
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// newClientServed: a fresh client, one request on a connection of its own.
func newClientServed(src, addr string) error {
	c := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext,
	}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestConnLimitIdleMakeRoom: connections kept idle between requests, from
// several sources and up to the bound in all, do not shut a new client out:
// the oldest idle one is closed to admit it (review: 20 addresses × 512
// idle keep-alive connections refused everyone else for as long as they
// were held). Connections busy with a request are never closed for it.
func TestConnLimitIdleMakeRoom(t *testing.T) {
	srv := newLimitedServer(t, 2, 6)
	addr := srv.addr
	var held []net.Conn
	for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		for range 2 {
			c := dialFrom(t, src, addr)
			if err := roundTrip(c, "/"); err != nil {
				t.Fatalf("filling from %s: %v", src, err)
			}
			held = append(held, c)
			srv.waitFor(t, http.StateIdle, len(held)) // in this order: oldest first
		}
	}
	if err := newClientServed("127.0.0.5", addr); err != nil {
		t.Fatalf("a new client was refused while every place was held by idle keep-alive connections: %v", err)
	}
	if !closed(held[0]) {
		t.Fatal("the oldest idle connection was not the one closed")
	}

	// Per source: a source at its bound makes room from its own idle
	// connections, never another source's.
	srv.waitFor(t, http.StateIdle, 5)
	c := dialFrom(t, "127.0.0.3", addr)
	if err := roundTrip(c, "/"); err != nil {
		t.Fatalf("a source at its bound with idle connections was refused: %v", err)
	}
	if !closed(held[2]) {
		t.Fatal("the source's own oldest idle connection was not closed")
	}

	// Busy connections: fill every place with requests under way; a new
	// client is refused, and every busy one is answered.
	srv2 := newLimitedServer(t, 0, 3)
	busy := make(chan error, 3)
	for i := range 3 {
		c := dialFrom(t, fmt.Sprintf("127.0.0.%d", 2+i), srv2.addr)
		go func() { busy <- roundTrip(c, "/slow") }()
	}
	srv2.waitFor(t, http.StateActive, 3)
	if err := newClientServed("127.0.0.9", srv2.addr); err == nil {
		t.Fatal("a connection past the bound was admitted while every place was busy")
	}
	close(srv2.release)
	for range 3 {
		if err := <-busy; err != nil {
			t.Fatalf("a busy connection was not answered: %v", err)
		}
	}
}

// TestServeIdleConnsMakeRoom: serve reports its connections' states to the
// limit, so that idle keep-alive connections holding --max-connections do
// not shut a new client out.
func TestServeIdleConnsMakeRoom(t *testing.T) {
	addr, _, _ := startServe(t, serveConfig{dataDir: t.TempDir(), obs: obsFlags{maxConns: 2}})
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		if err := roundTrip(dialFrom(t, src, addr), "/healthz"); err != nil {
			t.Fatal(err)
		}
	}
	// The server marks a connection idle just after it answers: try for a
	// while, not once.
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = newClientServed("127.0.0.4", addr); err == nil {
			return
		}
	}
	t.Fatalf("a new client was refused while idle keep-alive connections held --max-connections: %v", err)
}

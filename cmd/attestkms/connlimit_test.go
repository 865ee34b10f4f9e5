package main

import (
	"io"
	"log/slog"
	"net"
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

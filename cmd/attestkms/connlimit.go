package main

import (
	"container/list"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/attestkms/attestkms/internal/sourceaddr"
)

// connLimit bounds the API port's open connections: per source (an IPv4
// address, or an IPv6 address's /64, which one host holds whole, as the
// budget for failed authentications counts it) and in all. A connection
// past either bound is closed as soon as it is accepted, before TLS or a
// byte of HTTP, unless an idle keep-alive connection gives its place up.
//
// Threat model: a connection costs the server memory (net/http's buffers
// and a goroutine, ≈10–20 KB idle) and a descriptor for as long as its
// client keeps it (IdleTimeout, 120 s, between requests; ReadHeaderTimeout
// and ReadTimeout while one is read), before anything is authenticated: a
// client with no credential could hold as many as it can open. Per source,
// one address cannot take the server's memory; in all, many cannot take
// more than the bound. Clients behind one NAT share their address's bound:
// SDKs keep a few pooled connections each. Limits are per node.
//
// Idle keep-alive connections (between requests, http.StateIdle, told by
// the server's ConnState hook) would otherwise let a few addresses hold the
// whole bound for free: 20 addresses × 512 connections, each sending a
// request then nothing, refused every other client for as long as they
// kept them. So a new connection past a bound closes the oldest idle one
// in that bound (the source's own for the per-source bound) and takes its
// place; it is refused only when none is idle. A connection that is new
// (no request yet: ReadHeaderTimeout bounds it, TLS handshake included) or
// busy with a request (ReadTimeout, WriteTimeout) is never closed here,
// so holding the bound costs an attacker a connection opened again every
// few seconds per place, not one kept. Closing an idle connection is what
// net/http's own Shutdown and IdleTimeout do: a client that sends a
// request in the instant it is closed sees the reset any keep-alive close
// may cause, and retries as the SDKs do.
type connLimit struct {
	net.Listener
	perSource, total int
	log              *slog.Logger
	bound            string // named in its log lines; "" is serve's flags

	mu          sync.Mutex
	sources     map[netip.Addr]*sourceConns
	all         int
	idle        list.List  // of *limitedConn, oldest idle first
	refused     int        // since the last line logged
	reaped      int        // idle connections closed, since the last line logged
	lastRefused netip.Addr // the source of the last connection refused
	logged      time.Time  // when a line about refused connections was last logged
}

// sourceConns is one source's connections.
type sourceConns struct {
	open int
	idle list.List // of *limitedConn, oldest idle first
}

// limitConns wraps ln; a bound of 0 is none. The server that serves the
// listener must report its connections' states to connStateHook(ln), or
// no idle connection is ever closed to admit a new one.
func limitConns(ln net.Listener, perSource, total int, log *slog.Logger) net.Listener {
	if perSource <= 0 && total <= 0 {
		return ln
	}
	return &connLimit{Listener: ln, perSource: perSource, total: total, log: log, sources: map[netip.Addr]*sourceConns{}}
}

// connStateHook is the http.Server ConnState of a server serving ln (or a
// TLS listener over it), or nil if ln is not limited.
func connStateHook(ln net.Listener) func(net.Conn, http.ConnState) {
	l, ok := ln.(*connLimit)
	if !ok {
		return nil
	}
	return l.connState
}

// connSource is the source a connection counts for (sourceaddr.Of: as the
// budget for failed authentications counts it).
func connSource(a net.Addr) netip.Addr {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{} // not TCP: all such count as one source
	}
	return sourceaddr.Of(t.AddrPort().Addr())
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := connSource(c.RemoteAddr())
		l.mu.Lock()
		s := l.sources[src]
		if s == nil {
			s = &sourceConns{}
			l.sources[src] = s
		}
		// Make room from idle connections, the source's own first: only
		// they may make room past the source's bound, or one source could
		// close everyone else's. Nothing is closed for a connection that
		// is refused anyway.
		var victims []*limitedConn
		admit := true
		if l.perSource > 0 && s.open >= l.perSource {
			if v := oldest(&s.idle); v != nil {
				victims = append(victims, v)
			} else {
				admit = false
			}
		}
		// A source's victim frees a place in all too (l.all never passes
		// l.total), so this takes one only when the source took none.
		if admit && l.total > 0 && l.all-len(victims) >= l.total {
			if v := oldest(&l.idle); v != nil {
				victims = append(victims, v)
			} else {
				admit = false
			}
		}
		if admit {
			for _, v := range victims {
				l.release(v)
			}
			l.reaped += len(victims)
		} else {
			victims = nil
			l.refused++
			l.lastRefused = src
			if s.open == 0 {
				delete(l.sources, src)
			}
		}
		var refused, reaped int
		var lastRefused netip.Addr
		if now := time.Now(); (l.refused > 0 || l.reaped > 0) && now.Sub(l.logged) >= time.Minute {
			refused, reaped, lastRefused, l.refused, l.reaped, l.logged = l.refused, l.reaped, l.lastRefused, 0, 0, now
		}
		var lc *limitedConn
		if admit {
			s.open++
			l.all++
			l.sources[src] = s // again: releasing a victim of src's may have removed it
			lc = &limitedConn{Conn: c, l: l, src: src, s: s}
		}
		l.mu.Unlock()
		for _, v := range victims {
			v.Conn.Close() // its server goroutine sees the error and ends
		}
		bound := l.bound
		if bound == "" {
			bound = "--max-connections or --max-connections-per-source"
		}
		if refused > 0 {
			l.log.Warn("refused connections past "+bound, "refused", refused, "last_source", lastRefused.String())
		}
		if reaped > 0 {
			l.log.Info("closed idle keep-alive connections to admit new ones past "+bound, "closed", reaped)
		}
		if lc != nil {
			return lc, nil
		}
		c.Close()
	}
}

// oldest is the connection longest idle in idle (a source's), or nil.
func oldest(idle *list.List) *limitedConn {
	if e := idle.Front(); e != nil {
		return e.Value.(*limitedConn)
	}
	return nil
}

// connState follows a connection's state: idle ones may be closed to admit
// new ones, others never are.
func (l *connLimit) connState(c net.Conn, state http.ConnState) {
	if u, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		c = u.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok || lc.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.released {
		return
	}
	lc.unidle()
	if state == http.StateIdle {
		lc.idleAll = l.idle.PushBack(lc)
		lc.idleSrc = lc.s.idle.PushBack(lc)
	}
}

// release gives c's place back, once; l.mu is held.
func (l *connLimit) release(c *limitedConn) {
	if c.released {
		return
	}
	c.released = true
	c.unidle()
	if c.s.open--; c.s.open <= 0 {
		delete(l.sources, c.src)
	}
	l.all--
}

// limitedConn gives its place back when it is closed, once.
type limitedConn struct {
	net.Conn
	l   *connLimit
	src netip.Addr
	s   *sourceConns

	// Guarded by l.mu.
	released         bool
	idleAll, idleSrc *list.Element // in l.idle and s.idle while idle
}

// unidle takes c off the idle lists; l.mu is held.
func (c *limitedConn) unidle() {
	if c.idleAll != nil {
		c.l.idle.Remove(c.idleAll)
		c.s.idle.Remove(c.idleSrc)
		c.idleAll, c.idleSrc = nil, nil
	}
}

func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

package main

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/attestkms/attestkms/internal/sourceaddr"
)

// connLimit bounds the API port's open connections: per source (an IPv4
// address, or an IPv6 address's /64, which one host holds whole, as the
// budget for failed authentications counts it) and in all. A connection
// past either bound is closed as soon as it is accepted, before TLS or a
// byte of HTTP.
//
// Threat model: a connection costs the server memory (net/http's buffers
// and a goroutine, ≈10–20 KB idle) and a descriptor for as long as its
// client keeps it (IdleTimeout, 120 s, between requests; ReadHeaderTimeout
// and ReadTimeout while one is read), before anything is authenticated: a
// client with no credential could hold as many as it can open. Per source,
// one address cannot take the server's memory; in all, many cannot take
// more than the bound. Clients behind one NAT share their address's bound:
// SDKs keep a few pooled connections each. Limits are per node.
type connLimit struct {
	net.Listener
	perSource, total int
	log              *slog.Logger

	mu      sync.Mutex
	open    map[netip.Addr]int // by source
	all     int
	refused int       // since the last line logged
	logged  time.Time // when a line about refused connections was last logged
}

// limitConns wraps ln; a bound of 0 is none.
func limitConns(ln net.Listener, perSource, total int, log *slog.Logger) net.Listener {
	if perSource <= 0 && total <= 0 {
		return ln
	}
	return &connLimit{Listener: ln, perSource: perSource, total: total, log: log, open: map[netip.Addr]int{}}
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
		if (l.total > 0 && l.all >= l.total) || (l.perSource > 0 && l.open[src] >= l.perSource) {
			l.refused++
			now := time.Now()
			var n int
			if now.Sub(l.logged) >= time.Minute {
				n, l.refused, l.logged = l.refused, 0, now
			}
			l.mu.Unlock()
			c.Close()
			if n > 0 {
				l.log.Warn("refused connections past --max-connections or --max-connections-per-source", "refused", n, "last_source", src.String())
			}
			continue
		}
		l.open[src]++
		l.all++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, src: src}, nil
	}
}

// limitedConn gives its place back when it is closed, once.
type limitedConn struct {
	net.Conn
	l    *connLimit
	src  netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.open[c.src]--; c.l.open[c.src] <= 0 {
			delete(c.l.open, c.src)
		}
		c.l.all--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

//go:build linux

package vsock

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is a connected vsock stream.
type Conn struct {
	f             *os.File
	local, remote Addr
}

var _ net.Conn = (*Conn)(nil)

func (c *Conn) Read(b []byte) (int, error)         { return c.f.Read(b) }
func (c *Conn) Write(b []byte) (int, error)        { return c.f.Write(b) }
func (c *Conn) Close() error                       { return c.f.Close() }
func (c *Conn) LocalAddr() net.Addr                { return c.local }
func (c *Conn) RemoteAddr() net.Addr               { return c.remote }
func (c *Conn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// Dial connects to a, giving up when ctx ends.
func Dial(ctx context.Context, a Addr) (net.Conn, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opError("socket", a, err)
	}
	err = unix.Connect(fd, &unix.SockaddrVM{CID: a.CID, Port: a.Port})
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, opError("connect", a, err)
	}
	f := os.NewFile(uintptr(fd), "vsock")
	if err == unix.EINPROGRESS {
		if err := waitConnected(ctx, f); err != nil {
			f.Close()
			return nil, opError("connect", a, err)
		}
	}
	c := &Conn{f: f, remote: a}
	if sa, err := unix.Getsockname(fd); err == nil {
		if vm, ok := sa.(*unix.SockaddrVM); ok {
			c.local = Addr{CID: vm.CID, Port: vm.Port}
		}
	}
	return c, nil
}

// waitConnected waits, under the poller, for a non-blocking connect to
// finish, and reports its result.
func waitConnected(ctx context.Context, f *os.File) error {
	if d, ok := ctx.Deadline(); ok {
		f.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var soErr error
	werr := rc.Write(func(fd uintptr) bool {
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			soErr = err
			return true
		}
		if n != 0 {
			soErr = unix.Errno(n)
			return true
		}
		// The poller calls this once before it waits: no error yet is
		// not connected yet unless the socket has its peer.
		if _, err := unix.Getpeername(int(fd)); err == unix.ENOTCONN {
			return false
		}
		return true
	})
	f.SetWriteDeadline(time.Time{})
	if werr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return werr
	}
	return soErr
}

// Listener accepts vsock connections on a port (for tests and for a
// parent-side proxy's tests; attestkms itself listens on TCP).
type Listener struct {
	f    *os.File
	addr Addr
}

// Listen listens on port of every local CID.
func Listen(port uint32) (*Listener, error) {
	a := Addr{CID: unix.VMADDR_CID_ANY, Port: port}
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opError("socket", a, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port}); err != nil {
		unix.Close(fd)
		return nil, opError("bind", a, err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		unix.Close(fd)
		return nil, opError("listen", a, err)
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		if vm, ok := sa.(*unix.SockaddrVM); ok {
			a.Port = vm.Port
		}
	}
	return &Listener{f: os.NewFile(uintptr(fd), "vsock-listener"), addr: a}, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	rc, err := l.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var sa unix.Sockaddr
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		nfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return aerr != unix.EAGAIN
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, opError("accept", l.addr, aerr)
	}
	c := &Conn{f: os.NewFile(uintptr(nfd), "vsock"), local: l.addr}
	if vm, ok := sa.(*unix.SockaddrVM); ok {
		c.remote = Addr{CID: vm.CID, Port: vm.Port}
	}
	return c, nil
}

// Close stops listening.
func (l *Listener) Close() error { return l.f.Close() }

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.addr }

func opError(op string, a Addr, err error) error {
	return &net.OpError{Op: op, Net: "vsock", Addr: a, Err: fmt.Errorf("%w", err)}
}

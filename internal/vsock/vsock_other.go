//go:build !linux

package vsock

import (
	"context"
	"net"
)

// Dial reports ErrUnsupported: AF_VSOCK is Linux's.
func Dial(ctx context.Context, a Addr) (net.Conn, error) { return nil, ErrUnsupported }

// Listen reports ErrUnsupported.
func Listen(port uint32) (net.Listener, error) { return nil, ErrUnsupported }

// Package vsock carries a byte stream over AF_VSOCK, the socket family of
// virtual machine sockets: an AWS Nitro or Huawei Qingtian enclave has no
// network, only vsock to its parent instance, where a proxy (AWS's
// vsock-proxy, or socat VSOCK-LISTEN:PORT,fork TCP:HOST:PORT) forwards to
// attestkms. enclavetool's --endpoint vsock://CID:PORT dials through it.
//
// The standard library has no AF_VSOCK (net.FileConn refuses the family),
// so Conn wraps the socket's file, non-blocking under the runtime's poller:
// deadlines and a context's cancellation work as on TCP. Linux only; Dial
// elsewhere says so.
//
// Threat model: vsock authenticates nothing: the parent (or whoever runs
// the proxy) is on the path of every byte. Plain HTTP over it is readable
// and changeable by the parent — it can see requests, which hold nothing a
// Recipient's answer reveals, and drop or replay them — so use TLS over
// vsock (vsock+https://) for the credential's sake, as over any network.
package vsock

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Well-known context ids.
const (
	CIDHypervisor = 0
	CIDLocal      = 1 // loopback, where the kernel has vsock_loopback
	CIDHost       = 2 // the host (a Nitro enclave reaches its parent instance at CID 3)
)

// ErrUnsupported: this platform has no AF_VSOCK.
var ErrUnsupported = errors.New("vsock: AF_VSOCK is not supported on this platform (Linux only)")

// Addr is a vsock address.
type Addr struct{ CID, Port uint32 }

func (a Addr) Network() string { return "vsock" }
func (a Addr) String() string  { return fmt.Sprintf("%d:%d", a.CID, a.Port) }

var _ net.Addr = Addr{}

// Endpoint is where enclavetool's requests go when --endpoint names vsock:
// the URL the HTTP client requests (its host is what TLS verifies and the
// request signs) and the vsock address every connection dials instead.
type Endpoint struct {
	URL  string // http://CID:PORT or https://NAME[:PORT]
	Addr Addr
	TLS  bool
}

// ParseEndpoint reads the two vsock forms of --endpoint:
//
//	vsock://CID:PORT                      HTTP over vsock
//	vsock+https://CID:PORT?name=HOST      HTTPS over vsock: TLS verifies the
//	                                      certificate for HOST (required: a
//	                                      CID names no certificate), and the
//	                                      request's Host is HOST
//
// CID and PORT are decimal 32-bit numbers. Nothing else is accepted: no
// path, user, fragment, or other query.
func ParseEndpoint(s string) (*Endpoint, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("vsock endpoint: %v", err)
	}
	bad := func(why string) (*Endpoint, error) {
		return nil, fmt.Errorf("vsock endpoint %q: %s (want vsock://CID:PORT or vsock+https://CID:PORT?name=HOST)", s, why)
	}
	if u.Scheme != "vsock" && u.Scheme != "vsock+https" {
		return bad("not a vsock URL")
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return bad("only CID:PORT, and ?name= for vsock+https")
	}
	cidText, portText, ok := strings.Cut(u.Host, ":")
	if !ok {
		return bad("no port")
	}
	cid, err1 := parseUint32(cidText)
	port, err2 := parseUint32(portText)
	if err1 != nil || err2 != nil {
		return bad("CID and PORT must be decimal 32-bit numbers")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("a query that does not parse")
	}
	e := &Endpoint{Addr: Addr{CID: cid, Port: port}}
	if u.Scheme == "vsock" {
		if len(q) != 0 {
			return bad("a query on plain vsock://")
		}
		e.URL = fmt.Sprintf("http://%d:%d", cid, port)
		return e, nil
	}
	names := q["name"]
	if len(q) != 1 || len(names) != 1 || names[0] == "" {
		return bad("vsock+https needs exactly ?name=HOST, the name its certificate is for")
	}
	host := names[0]
	if strings.ContainsAny(host, "/?#@ ") {
		return bad("name is not a host name")
	}
	e.URL, e.TLS = "https://"+host, true
	return e, nil
}

func parseUint32(s string) (uint32, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not canonical")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

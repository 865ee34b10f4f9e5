package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/internal/vsock"
)

// viaVsock makes dialVsock reach srv over TCP, as the parent's proxy would,
// and records the vsock addresses dialled.
func viaVsock(t *testing.T, srv *testserver.Server) *[]vsock.Addr {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	var dialled []vsock.Addr
	old := dialVsock
	dialVsock = func(ctx context.Context, a vsock.Addr) (net.Conn, error) {
		dialled = append(dialled, a)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", u.Host)
	}
	t.Cleanup(func() { dialVsock = old })
	return &dialled
}

// TestVsockEndpoint: --endpoint vsock://CID:PORT carries the same signed
// HTTP over vsock, and vsock+https://CID:PORT?name=HOST the same TLS,
// verified for HOST as over TCP (the kernel's vsock is replaced by a TCP
// dial to the server: the URL forms and the client's plumbing are what is
// tested here; internal/vsock tests the socket where the kernel has
// vsock loopback).
func TestVsockEndpoint(t *testing.T) {
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}

	e := newEnv(t)
	dialled := viaVsock(t, e.srv)
	code, out, errs := run1("generate-random", "--number-of-bytes", "8", "--endpoint", "vsock://3:8000", "--credential", e.credFile, "--attestor", "sim", "--sim-ca", e.caDir)
	if code != 0 || !strings.Contains(out, "PLAINTEXT: ") {
		t.Fatalf("over vsock://: exit %d %s %s", code, out, errs)
	}
	if len(*dialled) == 0 || (*dialled)[0] != (vsock.Addr{CID: 3, Port: 8000}) {
		t.Fatalf("dialled %v", *dialled)
	}

	tlsEnv := newEnvOpts(t, testserver.Options{TLS: true})
	viaVsock(t, tlsEnv.srv)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, tlsEnv.srv.CAPEM, 0o600)
	base := []string{"generate-random", "--number-of-bytes", "8", "--credential", tlsEnv.credFile, "--attestor", "sim", "--sim-ca", tlsEnv.caDir}
	// httptest's certificate is for example.com.
	if code, out, errs := run1(append(base, "--endpoint", "vsock+https://3:8443?name=example.com", "--ca-bundle", bundle)...); code != 0 || !strings.Contains(out, "PLAINTEXT: ") {
		t.Fatalf("over vsock+https: exit %d %s %s", code, out, errs)
	}
	for name, args := range map[string][]string{
		"another name":    {"--endpoint", "vsock+https://3:8443?name=kms.other.test", "--ca-bundle", bundle},
		"an untrusted CA": {"--endpoint", "vsock+https://3:8443?name=example.com", "--ca-bundle", ""},
	} {
		if code, _, errs := run1(append(base, args...)...); code != 1 || !strings.Contains(errs, "certificate") {
			t.Errorf("%s: exit %d %s", name, code, errs)
		}
	}
	for _, ep := range []string{"vsock://3", "vsock+https://3:8443", "vsock://3:8000/x", "vsock://3:8000?name=a"} {
		if code, _, errs := run1(append(base, "--endpoint", ep)...); code != 2 || !strings.Contains(errs, "vsock") {
			t.Errorf("--endpoint %s: exit %d %s", ep, code, errs)
		}
	}
}

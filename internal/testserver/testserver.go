// Package testserver starts the whole HTTP stack — a kms.Service on a fresh
// data directory behind api.New — on a loopback port, for the dialects'
// integration tests and benchmarks.
package testserver

import (
	"encoding/pem"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms"
)

// Server is a running attestkms on loopback.
type Server struct {
	URL       string
	Region    string // the service's one region: sign AWS requests for it
	DataDir   string
	Service   *kms.Service
	Handler   *echo.Echo
	Account   kms.Account
	AccessKey string
	Secret    string
	// CAPEM is the PEM certificate a client must trust, with Options.TLS.
	CAPEM []byte
}

// Options change the server a test gets. Zero values: the real clock, no
// attestation verifier (Recipients refused), region us-east-1. Whether a
// debug-mode enclave is admitted is the verifiers' option (AllowDebug).
type Options struct {
	// Region is the service's region (kms.Options.Region).
	Region string
	// TLS serves HTTPS with a fresh self-signed certificate (Server.CAPEM).
	TLS         bool
	Now         func() time.Time
	Attestation attest.Verifier
	// RateLimit and AuthFailureLimit are api.Options's: 0 is no limit.
	RateLimit, AuthFailureLimit float64
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	acct, cred, err := kms.Init(kms.Options{DataDir: dir, Region: opts.Region})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir, Region: opts.Region, Now: opts.Now, Attestation: opts.Attestation})
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Options{Service: svc, Now: opts.Now, RateLimit: opts.RateLimit, AuthFailureLimit: opts.AuthFailureLimit})
	hs := httptest.NewUnstartedServer(h)
	if opts.TLS {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.Close()
		svc.Close()
	})
	srv := &Server{
		URL: hs.URL, Region: svc.Region(), DataDir: dir, Service: svc, Handler: h, Account: *acct,
		AccessKey: cred.AccessKeyID, Secret: cred.SecretAccessKey,
	}
	if opts.TLS {
		srv.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	}
	return srv
}

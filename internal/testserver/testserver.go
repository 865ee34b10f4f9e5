// Package testserver starts the whole HTTP stack — a kms.Service on a fresh
// data directory behind api.New — on a loopback port, for the dialects'
// integration tests and benchmarks. The store is the embedded bbolt file,
// or a fresh PostgreSQL database (Options.Store; ATTESTKMS_TEST_STORE sets
// the default), so that the SDK suites run against both (Stores).
package testserver

import (
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/internal/pgtest"
	"github.com/attestkms/attestkms/kms"
)

// The stores a Server can run on (Options.Store).
const (
	Bolt     = "bolt"     // the embedded default: DataDir/kms.db
	Postgres = "postgres" // a new PostgreSQL database (internal/pgtest), the server one node of it
)

// StoreEnv names the variable that sets Options.Store's default: "postgres"
// runs every test that does not choose on PostgreSQL.
const StoreEnv = "ATTESTKMS_TEST_STORE"

// Stores runs fn as one subtest per store, "bolt" and "postgres"; the
// latter skips, saying why, without PostgreSQL (internal/pgtest).
func Stores(t *testing.T, fn func(t *testing.T, store string)) {
	for _, st := range []string{Bolt, Postgres} {
		t.Run(st, func(t *testing.T) {
			if st == Postgres && !pgtest.Available() {
				t.Skipf("%s is not set: the PostgreSQL run of this test needs it (.ci/run sets it)", pgtest.Env)
			}
			fn(t, st)
		})
	}
}

// Server is a running attestkms on loopback.
type Server struct {
	URL    string
	Region string // the service's one region: sign AWS requests for it
	Store  string // Bolt or Postgres
	// DataDir is the service's data directory (a node's, on Postgres): its
	// audit log is DataDir/audit.log.
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
	// Store is Bolt or Postgres (which skips the test without
	// PostgreSQL). Empty: $ATTESTKMS_TEST_STORE, else Bolt.
	Store string
	// TLS serves HTTPS with a fresh self-signed certificate (Server.CAPEM).
	TLS         bool
	Now         func() time.Time
	Attestation attest.Verifier
	// RateLimit and AuthFailureLimit are api.Options's: 0 is no limit.
	RateLimit, AuthFailureLimit float64
	// Logger is api.Options's: nil, slog.Default().
	Logger *slog.Logger
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	store := opts.Store
	if store == "" {
		store = os.Getenv(StoreEnv)
	}
	base := kms.Options{DataDir: dir, Region: opts.Region}
	switch store {
	case "", Bolt:
		store = Bolt
	case Postgres:
		base.Store = pgtest.DB(t)
		base.RootKeyFile = filepath.Join(dir, "root.key")
		base.DataDir = filepath.Join(dir, "node")
	default:
		t.Fatalf("testserver: unknown store %q", store)
	}
	acct, cred, err := kms.Init(base)
	if err != nil {
		t.Fatal(err)
	}
	o := base
	o.Now, o.Attestation = opts.Now, opts.Attestation
	svc, err := kms.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Options{Service: svc, Now: opts.Now, RateLimit: opts.RateLimit, AuthFailureLimit: opts.AuthFailureLimit, Logger: opts.Logger})
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
		URL: hs.URL, Region: svc.Region(), Store: store, DataDir: base.DataDir, Service: svc, Handler: h, Account: *acct,
		AccessKey: cred.AccessKeyID, Secret: cred.SecretAccessKey,
	}
	if opts.TLS {
		srv.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	}
	return srv
}

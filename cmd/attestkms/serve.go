package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/attestkms/attestkms/api"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/internal/gctune"
	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

const serveUsage = `Usage: attestkms serve [flags]

Serves the AWS KMS (JSON 1.1), Huawei DEW KMS (v1.0) and Tencent KMS (API 3.0)
dialects on one port, answers GET /healthz with 200 once ready, and shuts down
gracefully on SIGINT or SIGTERM. SIGHUP reopens the audit log (for logrotate).

Requests may carry a Recipient (an attestation document): the secret then
comes back wrapped to the enclave's key. Nitro documents are verified to the
embedded AWS Nitro Enclaves root unless --nitro-roots replaces it; Qingtian
documents only with --qingtian-roots. SEV-SNP evidence is verified to the
embedded AMD roots unless --snp-roots replaces them; TPM quotes only with
--tpm-roots (docs/evidence.md). Intel TDX quotes are verified to the embedded
Intel SGX Root CA unless --tdx-roots replaces it, and judged with Intel's
collateral from --tdx-collateral DIR or the envelope.

With no flags it serves ./attestkms-data on 127.0.0.1:8080. If the data
directory holds no store yet, it creates one and writes the first admin
credential to DIR/admin-credential.json (mode 0600), saying so on stderr, or
with --admin-credential-out FILE to FILE (a new file, mode 0600) and nowhere
else. While DIR/admin-credential.json is there, every start warns: whoever
reads the data directory holds the admin credential; move it out and delete
it. A data directory that holds a store's root key, audit log or credential
file but not its database is refused (restore the store from a backup), and
so is a damaged database; --check-store checks every page and record first
(attestkms store check).

The service has one region, --region (default us-east-1): every key ARN
names it, an ARN naming another region is not found, and an AWS request
signed for another region is refused. Tencent's X-TC-Region and Huawei's
requests reach the same keys under the same ARNs. A store remembers the
region it was created (or last moved) for, and serve refuses it under another
--region; --rename-region moves it instead, rewriting that region's ARNs in
every key policy — all at once, or not at all.

Every operation writes its own line to the audit log (--audit-path, default
DIR/audit.log), hash-chained (attestkms audit verify checks it). Once the file
holds --audit-max-size bytes (default 100MiB) it is renamed audit.log.1,
audit.log.2, … (newest highest) and a new one begins; with --audit-max-size 0
it is never rotated here, and logrotate may rename it and send SIGHUP. A key
use is answered once its line is synced; while other key uses are under way,
or the CPUs have work queued, a sync waits up to --audit-commit-delay (4ms)
for their lines, so that they share it. While
the audit log cannot be written (a full disk), changes and secrets are refused
and reads of public data go on; the service resumes once a write succeeds.

Several nodes: --store postgres://USER@HOST:PORT/DB?sslmode=… serves a
PostgreSQL database that attestkms init --store made, shared by every node
that serves it (README "Running several nodes"). Each node needs the shared
root key (--root-key SPEC) and a data directory of its own (--data-dir) for
what is the node's: its audit log (one hash chain per node) and its id
(node.json). A key created on one node is usable on every other at once; a
change made on one (disabled, scheduled for deletion, rotated, a new policy,
a deleted credential) is followed by the others within a second. A node that
loses the database's change notifications refuses every request, and /readyz
says not ready, until they resume (it reconnects by itself). The role's
password comes from PGPASSWORD, ~/.pgpass or --store-password-file, never the
URL. --store bolt:PATH names the default store, a bbolt file, explicitly.

Operating it: GET /healthz is 200 while the process serves, GET /readyz 200
while its store answers and its audit log can be written (503 otherwise).
--metrics-listen serves Prometheus metrics on a separate address (and, with
--pprof, Go's profiles there), never on the API port. Logs go to stderr
(--log-format, --log-level). The limits — --rate-limit per access key,
--auth-failure-limit per source address, --cold-chain-limit for attestation
chains not verified before — are token buckets of this process: per node,
not per cluster.

Examples:
  attestkms serve
  attestkms serve --data-dir /var/lib/attestkms --listen 0.0.0.0:8443 \
      --tls-cert server.pem --tls-key server.key
  attestkms serve --nitro-roots ca/root.pem      # trust attestsim's test root instead of AWS's
  attestkms serve --snp-roots snpca/roots.pem --tpm-roots tpmca/roots.pem   # attestsim's SNP and TPM test CAs
  attestkms serve --region eu-west-1 --rename-region   # move a us-east-1 store to eu-west-1
  attestkms serve --metrics-listen 127.0.0.1:9464 --log-format json --rate-limit 500
  attestkms serve --store 'postgres://attestkms@db.internal:5432/attestkms?sslmode=verify-full' \
      --store-password-file /etc/attestkms/pgpass --root-key file:/etc/attestkms/root.key \
      --data-dir /var/lib/attestkms-node --listen 0.0.0.0:8443 --tls-cert server.pem --tls-key server.key
`

// serveConfig is what serve runs with; tests build one directly.
type serveConfig struct {
	dataDir, listen    string
	root               rootKeyFlags
	store              storeFlags
	region             string
	renameRegion       bool
	tlsCert, tlsKey    string
	evidence           evidenceFlags
	allowDebugEnclaves bool
	maintainEvery      time.Duration
	auditPath          string
	auditMaxSize       int64         // 0: never rotate
	auditCommitDelay   time.Duration // 0: never wait
	maxKeys            int
	reopen             <-chan os.Signal // SIGHUP: reopen the audit log
	obs                obsFlags         // metrics, logs, limits (observe.go)
	checkStore         bool             // attestkms store check's check first
	adminCredentialOut string           // first start: the admin credential's file, outside DIR
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveUsage, stdout, stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.dataDir, "data-dir", "./attestkms-data", "the store's `directory`; created and initialised on first start")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "the `address` to listen on")
	cfg.root.register(fs)
	cfg.store.register(fs)
	fs.StringVar(&cfg.region, "region", "us-east-1", "the service's one `region`, named in every key ARN; must be the store's")
	fs.BoolVar(&cfg.renameRegion, "rename-region", false, "move a store of another region to --region, rewriting the ARNs in its key policies")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve TLS (1.2 or later) with this PEM certificate chain `file`")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the PEM private key `file` of --tls-cert")
	cfg.evidence.register(fs)
	fs.BoolVar(&cfg.allowDebugEnclaves, "allow-debug-enclaves", false, "accept Recipients from debug-mode enclaves, whose memory is open to their host (tests only)")
	fs.StringVar(&cfg.auditPath, "audit-path", "", "the audit log's `file` (default DIR/audit.log)")
	auditMaxSize := byteSize(100 << 20)
	fs.Var(&auditMaxSize, "audit-max-size", "rotate the audit log at this `size` (100MiB, 1GiB, or bytes; 0: never, for logrotate)")
	fs.DurationVar(&cfg.auditCommitDelay, "audit-commit-delay", audit.DefaultCommitDelay, "how long at most a `duration` an audit sync waits for the lines of key uses already under way, or while the CPUs have work queued, so that they share it (0: never)")
	fs.IntVar(&cfg.maxKeys, "max-keys", kms.DefaultMaxKeys, "how many `keys` the account may hold, in every state (AWS's quota); CreateKey past it answers LimitExceeded")
	fs.StringVar(&cfg.adminCredentialOut, "admin-credential-out", "", "on first start, write the admin credential to this new `file` (mode 0600) instead of DIR/admin-credential.json")
	fs.BoolVar(&cfg.checkStore, "check-store", false, "check every page and record of the store before serving (attestkms store check), and refuse to serve a damaged one")
	cfg.obs.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	cfg.auditMaxSize = int64(auditMaxSize)
	if err := cfg.obs.check(); err != nil {
		return err
	}
	if err := cfg.store.check(); err != nil {
		return err
	}
	if err := cfg.root.check(); err != nil {
		return err
	}
	if cfg.store.shared() && !cfg.root.given() {
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE): every node of a shared store uses the same root key")
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	if !kms.ValidRegion(cfg.region) {
		return usageError("--region must be 1-32 characters of a-z 0-9 -, such as us-east-1")
	}
	if cfg.maxKeys <= 0 {
		return usageError("--max-keys %d: want a positive number of keys", cfg.maxKeys)
	}
	cfg.maintainEvery = time.Minute
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg.reopen = hup
	return serve(ctx, cfg, stderr, nil)
}

// serve runs the server until ctx is done. If ready is not nil it receives the
// listening address once /healthz answers.
func serve(ctx context.Context, cfg serveConfig, stderr io.Writer, ready chan<- string) error {
	logger, err := cfg.obs.logger(stderr)
	if err != nil {
		return err
	}
	stderr = cfg.obs.notices(stderr, logger)
	logger.Debug("garbage collector", "gogc", gctune.Apply())
	if cfg.evidence.maxAge == 0 {
		cfg.evidence.maxAge = 5 * time.Minute
	}
	cfg.evidence.allowDebug = cfg.allowDebugEnclaves
	cfg.evidence.coldChain = cfg.obs.coldChain()
	cfg.evidence.tdx.logger = logger
	verifiers, err := cfg.evidence.verifiers()
	if err != nil {
		return err
	}
	var attestation attest.Verifier = verifiers
	m := cfg.obs.instrument(verifiers) // nil without --metrics-listen
	if m != nil {
		attestation = m.Verifier(verifiers)
	}
	opts := kms.Options{DataDir: cfg.dataDir, Region: cfg.region, RenameRegion: cfg.renameRegion,
		Attestation: attestation, AuditPath: cfg.auditPath, AuditMaxSize: cfg.auditMaxSize, Logger: logger}
	if err := cfg.root.apply(&opts); err != nil {
		return err
	}
	if cfg.auditMaxSize == 0 {
		opts.AuditMaxSize = -1 // never: kms's zero is its default
	}
	opts.MaxKeys = cfg.maxKeys // 0 (a config made without flags): kms's default
	opts.AuditCommitDelay = cfg.auditCommitDelay
	if cfg.auditCommitDelay <= 0 {
		opts.AuditCommitDelay = -1 // never: kms's zero is its default
	}
	if err := cfg.store.apply(&opts); err != nil {
		return err
	}
	inDir := filepath.Join(cfg.dataDir, kms.AdminCredentialFile)
	if kms.InitOnStart(opts) {
		if cfg.adminCredentialOut != "" {
			// The file first, refusing one that exists: a store whose
			// credential could not be written would be one nobody administers.
			out, err := newCredentialOut(cfg.adminCredentialOut)
			if err != nil {
				return err
			}
			acct, cred, err := kms.Init(opts)
			if err != nil {
				out.abandon()
				return storeError(err)
			}
			if err := out.write(*acct, cred); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "attestkms: initialised a new store in %s\nattestkms: the admin credential is in %s (mode 0600), and nowhere else\n", cfg.dataDir, cfg.adminCredentialOut)
		} else {
			acct, cred, err := kms.Init(opts)
			if err != nil {
				return storeError(err)
			}
			doc, err := credentialDoc(*acct, cred)
			if err != nil {
				return err
			}
			if err := writeSecretFile(inDir, doc); err != nil {
				return fmt.Errorf("writing the admin credential: %w", err)
			}
			fmt.Fprintf(stderr, "attestkms: initialised a new store in %s\nattestkms: the admin credential is in %s (mode 0600)\n", cfg.dataDir, inDir)
		}
	} else if cfg.adminCredentialOut != "" {
		fmt.Fprintf(stderr, "attestkms: note: --admin-credential-out %s: the store exists already, so there is no new admin credential to write (attestkms credential create makes another)\n", cfg.adminCredentialOut)
	}
	if _, err := os.Stat(inDir); err == nil && !cfg.store.shared() {
		fmt.Fprintf(stderr, "attestkms: warning: %s holds the admin credential: move it out of the data directory and delete it: whoever reads the data directory then holds the admin credential\n", inDir)
	}
	if kms.RootKeyInDataDir(opts) {
		fmt.Fprintf(stderr, "attestkms: warning: the root key is a file in the data directory (%s): a copy of the directory is a copy of every key; move it (attestkms root-key rotate --to pkcs11:…, env:VAR or a file elsewhere; README \"Where the root key should live\")\n", kms.RootKeyName(opts))
	}
	if cfg.checkStore {
		if err := checkStore(ctx, opts, cfg.store.describe(cfg.dataDir), stderr); err != nil {
			return err
		}
	}
	svc, err := kms.Open(opts)
	if errors.Is(err, kms.ErrStoreInUse) {
		return withHint(err, "another attestkms serves this data directory")
	}
	if _, node, _ := kms.NodeID(cfg.dataDir); node && errors.Is(err, kms.ErrNotInitialised) {
		return withHint(err, "serve it with the shared store's --store postgres://… and --root-key")
	}
	if errors.Is(err, kms.ErrStoreMismatch) {
		return withHint(err, "each node of a shared store needs a data directory of its own, made by its first start")
	}
	if rm := (*kms.RegionMismatchError)(nil); errors.As(err, &rm) {
		return withHint(err, fmt.Sprintf("serve with --region %s, or add --rename-region to move it to %s (key policies naming %s ARNs are rewritten)", rm.Stored, rm.Requested, rm.Stored))
	}
	if err != nil {
		return storeError(err)
	}
	defer svc.Close()
	if m != nil {
		watchService(m, svc)
	}
	admin := svc.Admin()
	problems, err := admin.PolicyProblems(ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "attestkms: warning: key %s\nattestkms: hint: every request on that key is denied until the account's root credential replaces its policy (PutKeyPolicy)\n", p)
	}

	var tlsConfig *tls.Config
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	apiOpts := api.Options{Service: svc, Logger: logger, RateLimit: cfg.obs.rateLimit, AuthFailureLimit: cfg.obs.authFailureLimit}
	if m != nil {
		apiOpts.Observer = m
	}
	srv := &http.Server{
		Handler:        api.New(apiOpts),
		MaxHeaderBytes: 64 << 10,
		TLSConfig:      tlsConfig,
		// A line per failed TLS handshake, which anyone may cause: throttled.
		ErrorLog: log.New(throttleLines(stderr, "attestkms: http: ", errorLogLines, errorLogInterval), "attestkms: http: ", 0),
	}
	apiTimeouts.apply(srv)
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	ln = limitConns(ln, cfg.obs.maxConnsPerSource, cfg.obs.maxConns, logger)
	srv.ConnState = connStateHook(ln) // idle connections make room for new ones
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsConfig)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	node := ""
	if svc.Node() != "" {
		node = ", store " + cfg.store.describe(cfg.dataDir) + ", node " + svc.Node()
	} else if cfg.store.store != "" {
		// --store bolt:PATH: the store is not DIR/kms.db; say which it is.
		node = ", store " + cfg.store.describe(cfg.dataDir)
	}
	fmt.Fprintf(stderr, "attestkms: serving AWS KMS, Huawei DEW KMS and Tencent KMS on %s://%s (data %s, region %s%s)\n", scheme, ln.Addr(), cfg.dataDir, svc.Region(), node)
	if cfg.allowDebugEnclaves {
		fmt.Fprintln(stderr, "attestkms: warning: --allow-debug-enclaves: secrets may go to enclaves whose memory is open to their host")
	}
	stopMetrics, err := cfg.obs.start(m, ln.Addr(), tlsConfig != nil, logger, stderr)
	if err != nil {
		srv.Close()
		return err
	}
	defer stopMetrics()
	if ready != nil {
		ready <- ln.Addr().String()
	}

	maintain := func() {
		r, err := admin.Maintain(ctx)
		switch {
		case errors.Is(err, kms.ErrCanceled):
			// Shutting down: what is left waits for the next start.
		case err != nil:
			logger.Error("maintenance failed", "err", err)
		case r.Refused > 0:
			logger.Error("maintenance left alone key records that fail their integrity check (each logged above): the database was changed outside attestkms", "keys_destroyed", r.Destroyed, "keys_rotated", r.Rotated, "keys_refused", r.Refused)
		case r.Destroyed+r.Rotated > 0:
			logger.Info("maintenance", "keys_destroyed", r.Destroyed, "keys_rotated", r.Rotated)
		}
	}
	maintain()
	tick := time.NewTicker(cfg.maintainEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-served:
			return err
		case <-tick.C:
			maintain()
		case <-cfg.reopen:
			reopenAuditLog(svc, logger)
		case <-ctx.Done():
			fmt.Fprintln(stderr, "attestkms: shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return err
			}
			return nil
		}
	}
}

// reopenAuditLog is what serve does on SIGHUP: a new audit log file if the
// current one was renamed (logrotate).
func reopenAuditLog(svc *kms.Service, logger *slog.Logger) {
	if err := svc.AuditLog().Reopen(); err != nil {
		logger.Error("reopening the audit log failed", "err", err)
		return
	}
	logger.Info("audit log reopened")
}

// credentialOut is --admin-credential-out's file, made (exclusively) before
// the store so that a store is never made whose credential has nowhere to go.
type credentialOut struct {
	path string
	f    *os.File
}

func newCredentialOut(path string) (*credentialOut, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, withHint(fmt.Errorf("--admin-credential-out %s exists (refusing to overwrite it)", path), "name a new file")
	}
	if err != nil {
		return nil, readError(fmt.Errorf("--admin-credential-out: %w", err))
	}
	return &credentialOut{path: path, f: f}, nil
}

// abandon removes the file: no store was made.
func (o *credentialOut) abandon() {
	o.f.Close()
	os.Remove(o.path)
}

// write writes the credential, synced.
func (o *credentialOut) write(a kms.Account, c *kms.Credential) error {
	doc, err := credentialDoc(a, c)
	if err == nil {
		_, err = o.f.Write(doc)
	}
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the admin credential to %s: %w", o.path, err)
	}
	return nil
}

// writeSecretFile writes b to a new 0600 file at path. A file left there
// (by an earlier store) is removed first: os.WriteFile would keep its mode,
// however open, for the new secret.
func writeSecretFile(path string, b []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

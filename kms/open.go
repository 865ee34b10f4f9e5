package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
)

// Opening and making a store: what a data directory holds, and how a
// Service comes to be over it. The store is the embedded default, one bbolt
// file (package store/bolt); the operations see only package store's
// interface (store.go).

// Options configure a Service. Every zero value is a safe default.
type Options struct {
	// DataDir holds the database, the audit log and, by default, the root key.
	// Required.
	DataDir string
	// RootKeyFile is the root key's path. If empty, DataDir/root.key.
	RootKeyFile string
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Attestation verifies the evidence of Recipients, and judges it: a
	// debug-mode enclave's evidence, for one, is refused or admitted by the
	// verifiers' own options. If nil, a request with a Recipient is refused.
	Attestation attest.Verifier
	// Region is the service's one region: every key and alias ARN names it,
	// an ARN naming another is not found, and AWS requests signed for
	// another are refused. Init records it in the store and Open refuses a
	// store recorded for another region (ErrRegionMismatch). If empty,
	// us-east-1, the region stores made before regions were recorded used.
	Region string
	// RenameRegion lets Open move a store recorded for another region to
	// Region: it rewrites that region's ARNs of this account in every key
	// policy, all in one transaction. Zero: Open refuses the store.
	RenameRegion bool
	// StoredRegion makes Open take the region the store records (us-east-1
	// if it records none), whatever Region says: for admin tools, such as
	// credential management, that make no ARNs and should not need to be
	// told the region. It cannot be combined with RenameRegion. Zero: Region
	// must be the store's.
	StoredRegion bool
	// AuditPath is the audit log's file. If empty, DataDir/audit.log.
	AuditPath string
	// AuditMaxSize rotates the audit log once its file holds that many
	// bytes (package audit). Zero: 100 MiB. Negative: never (an external
	// logrotate renames it, and serve reopens it on SIGHUP).
	AuditMaxSize int64
}

const (
	dbFile        = "kms.db"
	rootKeyFile   = "root.key"
	auditFile     = "audit.log"
	defaultRegion = "us-east-1"
)

func (o *Options) auditPath() string {
	if o.AuditPath != "" {
		return o.AuditPath
	}
	return filepath.Join(o.DataDir, auditFile)
}

func (o *Options) rootKeyPath() string {
	if o.RootKeyFile != "" {
		return o.RootKeyFile
	}
	return filepath.Join(o.DataDir, rootKeyFile)
}

func (o *Options) dbPath() string { return filepath.Join(o.DataDir, dbFile) }

// IsInitialised reports whether dataDir holds a store.
func IsInitialised(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, dbFile))
	return err == nil
}

// Init creates a new store in opts.DataDir: the directory (0700), the root key
// (unless opts.RootKeyFile names an existing one), the account and the first
// admin credential, which it returns. It refuses a directory that already
// holds a store.
func Init(opts Options) (*Account, *Credential, error) {
	if opts.DataDir == "" {
		return nil, nil, errors.New("no data directory given")
	}
	region, err := opts.region()
	if err != nil {
		return nil, nil, err
	}
	if IsInitialised(opts.DataDir) {
		return nil, nil, fmt.Errorf("%w: %s (refusing to overwrite it)", ErrAlreadyInitialised, opts.DataDir)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	if err := os.Chmod(opts.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	var root []byte
	if _, statErr := os.Stat(opts.rootKeyPath()); statErr == nil {
		root, err = readRootKey(opts.rootKeyPath())
	} else if errors.Is(statErr, fs.ErrNotExist) {
		root, err = createRootKey(opts.rootKeyPath())
	} else {
		err = statErr
	}
	if err != nil {
		return nil, nil, err
	}
	sl, err := sealer.New(root)
	clear(root)
	if err != nil {
		return nil, nil, err
	}
	acct := Account{AccountID: randomDigits(12), ProjectID: randomHex(16)}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	cred := newCredential(adminName, now)
	// One transaction: the meta and the first credential, or no store (a
	// crash leaves none half-made behind).
	if err := bolt.Create(opts.dbPath(), initialise(sl, acct, region, cred)); err != nil {
		return nil, nil, fmt.Errorf("init %s: %w", opts.DataDir, err)
	}
	return &acct, cred, nil
}

// initialise is what a new store holds, written in its first transaction
// (whatever the implementation): the account, the region, the root key's
// check, and the account's root credential cred, sealed.
func initialise(sl *sealer.Sealer, acct Account, region string, cred *Credential) func(store.Txn) error {
	return func(tx store.Txn) error {
		m := &store.Meta{AccountID: acct.AccountID, ProjectID: acct.ProjectID, Region: region, RootCheck: store.SealRootCheck(sl)}
		if err := tx.PutMeta(m); err != nil {
			return err
		}
		rec := &store.Credential{AccessKeyID: cred.AccessKeyID, Name: cred.Name, CreatedAt: cred.CreatedAt}
		store.SealCredential(sl, rec, []byte(cred.SecretAccessKey))
		return tx.CreateCredential(rec)
	}
}

// Open opens the store in opts.DataDir. Only one process may have it open.
func Open(opts Options) (*Service, error) {
	if opts.DataDir == "" {
		return nil, errors.New("no data directory given")
	}
	region, err := opts.region()
	if err != nil {
		return nil, err
	}
	if opts.StoredRegion && opts.RenameRegion {
		return nil, errors.New("StoredRegion and RenameRegion cannot be combined: a rename needs the region to move to")
	}
	if !IsInitialised(opts.DataDir) {
		return nil, fmt.Errorf("%w: %s (run attestkms init)", ErrNotInitialised, opts.DataDir)
	}
	root, err := readRootKey(opts.rootKeyPath())
	if err != nil {
		return nil, err
	}
	sl, err := sealer.New(root)
	clear(root)
	if err != nil {
		return nil, err
	}
	st, err := openStore(opts.dbPath())
	if err != nil {
		return nil, err
	}
	s, err := newService(opts, st, sl, region)
	if err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// openStore opens the bbolt store at path for reading and writing, its
// errors as kms's.
func openStore(path string) (*bolt.Store, error) {
	st, err := bolt.Open(path, bolt.Options{})
	switch {
	case errors.Is(err, store.ErrInUse):
		return nil, fmt.Errorf("%w: %s (stop the running server first)", ErrStoreInUse, path)
	case errors.Is(err, store.ErrNotAStore):
		return nil, fmt.Errorf("%s is not an attestkms store: %w", path, err)
	}
	return st, err
}

// newService is the Service over the open store st, whose root key is
// sl's: it checks the root key, opens the audit log (resolving the change
// record a stop may have left unresolved), reconciles the region and loads
// the credentials.
func newService(opts Options, st store.Store, sl *sealer.Sealer, region string) (*Service, error) {
	s := &Service{opts: opts, now: opts.Now, st: st, sealer: sl, keys: newKeyCache()}
	if s.now == nil {
		s.now = time.Now
	}
	var changeSeq uint64
	err := st.View(context.Background(), func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		if err := store.CheckRoot(sl, m); err != nil {
			return fmt.Errorf("%w (%s)", ErrRootKeyMismatch, opts.rootKeyPath())
		}
		s.account = Account{AccountID: m.AccountID, ProjectID: m.ProjectID}
		changeSeq, err = r.AuditChangeSeq(auditChain)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The log first: a region move is a change, recorded with it.
	s.audit, err = audit.Open(audit.Options{Path: opts.auditPath(), MaxSize: opts.AuditMaxSize, Now: s.now, ChangeSeq: changeSeq, OpenFile: auditOpenFile})
	if err != nil {
		return nil, err
	}
	if s.region, err = s.openRegion(region, opts.RenameRegion, opts.StoredRegion); err == nil {
		s.creds, err = loadCredentials(context.Background(), st, sl, s.account, s.now)
	}
	if err != nil {
		s.audit.Close()
		return nil, err
	}
	return s, nil
}

// auditOpenFile opens the audit log's files: a test seam (writes that
// fail), os.OpenFile outside tests.
var auditOpenFile func(name string, flag int, perm os.FileMode) (audit.File, error)

// StoredAuditChangeSeq is the seq of the last change record the store in
// dataDir committed (its audit_change_seq; 0 if none), for attestkms audit
// verify: the log must reach it. It opens the store read-only and fails
// with ErrStoreInUse while a server holds it.
func StoredAuditChangeSeq(dataDir string) (uint64, error) {
	if !IsInitialised(dataDir) {
		return 0, fmt.Errorf("%w: %s", ErrNotInitialised, dataDir)
	}
	st, err := bolt.Open(filepath.Join(dataDir, dbFile), bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	switch {
	case errors.Is(err, store.ErrInUse):
		return 0, fmt.Errorf("%w: %s", ErrStoreInUse, dataDir)
	case errors.Is(err, store.ErrNotAStore):
		return 0, fmt.Errorf("%s is not an attestkms store: %w", dataDir, err)
	case err != nil:
		return 0, err
	}
	defer st.Close()
	var seq uint64
	err = st.View(context.Background(), func(r store.Reader) error {
		seq, err = r.AuditChangeSeq(auditChain)
		return err
	})
	return seq, err
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

package kms

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/sealer"
)

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

// Account identifies the one account a store serves. Every credential belongs
// to it; key ARNs name its AccountID, Huawei requests its ProjectID.
type Account struct {
	AccountID string `json:"account_id"`
	ProjectID string `json:"project_id"`
}

// Principal is an authenticated caller.
type Principal struct {
	AccessKeyID string
	Name        string
	// ARN is arn:aws:iam::<account>:root for the first (admin) credential and
	// arn:aws:iam::<account>:user/<name> for others.
	ARN string

	// identity is the credential's identity policy, nil for none; only a
	// credential lookup sets it (Credentials.Lookup).
	identity *identityPolicy
}

// Call is one authenticated request as kms sees it: who asks, under which
// request id, through which dialect. A dialect makes one per request; kms
// only reads it (each operation works on its own copy), and names it in the
// audit record every operation writes.
type Call struct {
	RequestID string
	Principal *Principal
	// SourceIP is the direct peer's address (aws:SourceIp), "" if unknown.
	SourceIP string
	// SecureTransport is true when the request came over TLS
	// (aws:SecureTransport).
	SecureTransport bool
	// Dialect names the dialect that asked ("aws"), for the audit record;
	// kms never acts on it.
	Dialect string
	// WireError, if not nil, is how the dialect answers err: its wire code
	// and the message the client sees, which the audit record keeps. If
	// nil, the record names err's kind and kms's message.
	WireError func(err error) (code, message string)

	op *opState // the operation's own copy's (begin)
}

// Service is the key service over one data directory.
type Service struct {
	opts    Options
	st      *store
	account Account
	region  string
	audit   *audit.Log
	creds   *Credentials
	now     func() time.Time
}

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

	// The database is built under a temporary name and renamed into place, so
	// a crash during init leaves no half-made store behind.
	tmp := filepath.Join(opts.DataDir, dbFile+".init")
	os.Remove(tmp)
	db, err := openDB(tmp, false)
	if err != nil {
		return nil, nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketKeys, bucketAliases, bucketCredentials} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		for k, v := range map[string][]byte{
			string(metaAccountID): []byte(acct.AccountID),
			string(metaProjectID): []byte(acct.ProjectID),
			string(metaSchema):    []byte(schemaVersion),
			string(metaRegion):    []byte(region),
			string(metaRootCheck): sl.Seal(purposeRootCheck, nil, rootCheckValue),
		} {
			if err := m.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return putCredential(tx, sl, &credentialRecord{AccessKeyID: cred.AccessKeyID, Name: cred.Name, CreatedAt: cred.CreatedAt}, []byte(cred.SecretAccessKey))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(opts.DataDir, dbFile))
	}
	if err == nil {
		err = syncDir(opts.DataDir)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, nil, fmt.Errorf("init %s: %w", opts.DataDir, err)
	}
	return &acct, cred, nil
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
	db, err := openDB(filepath.Join(opts.DataDir, dbFile), false)
	if err != nil {
		return nil, err
	}
	s := &Service{opts: opts, now: opts.Now, st: &store{db: db, sealer: sl, cache: map[string]*key{}}}
	if s.now == nil {
		s.now = time.Now
	}
	var changeSeq uint64
	err = db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil || string(m.Get(metaSchema)) != schemaVersion {
			return fmt.Errorf("%s is not an attestkms store of schema %s", opts.DataDir, schemaVersion)
		}
		if _, err := sl.Open(purposeRootCheck, nil, m.Get(metaRootCheck)); err != nil {
			return fmt.Errorf("%w (%s)", ErrRootKeyMismatch, opts.rootKeyPath())
		}
		s.account = Account{AccountID: string(m.Get(metaAccountID)), ProjectID: string(m.Get(metaProjectID))}
		var err error
		changeSeq, err = storedChangeSeq(tx)
		return err
	})
	if err == nil {
		// The log first: a region move is a change, recorded with it.
		s.audit, err = audit.Open(audit.Options{Path: opts.auditPath(), MaxSize: opts.AuditMaxSize, Now: s.now, ChangeSeq: changeSeq, OpenFile: auditOpenFile})
	}
	if err == nil {
		s.region, err = s.openRegion(region, opts.RenameRegion, opts.StoredRegion)
		if err != nil {
			s.audit.Close()
		}
	}
	if err == nil {
		s.creds, err = loadCredentials(db, sl, s.account, s.now)
		if err != nil {
			s.audit.Close()
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// auditOpenFile opens the audit log's files: a test seam (writes that
// fail), os.OpenFile outside tests.
var auditOpenFile func(name string, flag int, perm os.FileMode) (audit.File, error)

// Close closes the store and the audit log, zeroing cached key material.
func (s *Service) Close() error {
	aerr := s.audit.Close()
	if err := s.st.close(); err != nil {
		return err
	}
	return aerr
}

// Account returns the store's account.
func (s *Service) Account() Account { return s.account }

// AuditLog is the audit log of the store (Options.AuditPath): for the
// dialects' failed authentications (AuthFailure), serve's Reopen on SIGHUP,
// and tests. Operations write their own records; Close closes it.
func (s *Service) AuditLog() *audit.Log { return s.audit }

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

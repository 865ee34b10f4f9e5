package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
	"github.com/attestkms/attestkms/kms/internal/store/postgres"
)

// Opening and making a store: what a data directory holds, and how a
// Service comes to be over it. The store is the embedded default, one bbolt
// file (package store/bolt), or a PostgreSQL database that several nodes
// share (package store/postgres; Options.Store names it); the operations
// see only package store's interface (store.go).

// Options configure a Service. Every zero value is a safe default.
type Options struct {
	// DataDir holds the database, the audit log and, by default, the root key.
	// Required, but by Init of a shared store.
	DataDir string
	// Store names the store. "": the embedded bbolt file DataDir/kms.db,
	// as attestkms has always kept it; "bolt:PATH": a bbolt file at PATH;
	// "postgres://USER@HOST:PORT/DB?sslmode=…": a PostgreSQL database that
	// several nodes share (package store/postgres), each with a DataDir of
	// its own for what is the node's (node.go: its audit chain, its id).
	// The URL must not carry a password (ErrStorePassword): it is
	// StorePassword, else PGPASSWORD or the passfile, as libpq finds them.
	Store string
	// StorePassword is the database role's password, read by the caller
	// from a file (serve --store-password-file). Empty: PGPASSWORD or the
	// passfile. Only a shared store has one.
	StorePassword string
	// Logger receives the service's own notices: a shared store's change
	// notifications lost and resumed (follow.go). If nil, none are logged.
	Logger *slog.Logger
	// RootKey names where the root key lives (rootspec.go): file:PATH,
	// env:VAR or an RFC 7512 pkcs11: URI. If empty: RootKeyFile.
	RootKey string
	// RootKeyFile is the root key's path, the same as RootKey "file:PATH".
	// If both are empty, DataDir/root.key.
	RootKeyFile string
	// PKCS11PIN is the token's user PIN for a pkcs11: RootKey, read by the
	// caller from a file or the environment (never a flag).
	PKCS11PIN string
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
	// ProtectRecords lets Open authenticate the records of a store made
	// before records were (its root check v1): it MACs every record, in one
	// audited change (ProtectRecords, protect.go). Zero: Open refuses such
	// a store (ErrUnprotected). The MACs must come from a deliberate step
	// after the upgrade (attestkms store protect), not from whichever
	// process opens the store first: a database writer who put back a v1
	// root check, with records it changed, would have them MACed by it.
	ProtectRecords bool
	// AuditPath is the audit log's file. If empty, DataDir/audit.log.
	AuditPath string
	// AuditMaxSize rotates the audit log once its file holds that many
	// bytes (package audit). Zero: 100 MiB. Negative: never (an external
	// logrotate renames it, and serve reopens it on SIGHUP).
	AuditMaxSize int64
	// AuditCommitDelay is how long a batch of audit lines being synced may
	// wait for the lines of key uses under way (package audit's Expect). Zero: audit.DefaultCommitDelay.
	// Negative: never.
	AuditCommitDelay time.Duration
	// MaxKeys is how many keys the account may hold, in every state (as
	// AWS's quota of KMS keys per account and Region, 100,000): CreateKey
	// past it is ErrLimitExceeded. Zero or negative: DefaultMaxKeys (there
	// is no unlimited: serve refuses a --max-keys below 1). Counted from the
	// records digest every change locks: no concurrent CreateKey, on any
	// node, takes the same room.
	MaxKeys int
}

// DefaultMaxKeys is Options.MaxKeys's default: AWS KMS's default quota.
const DefaultMaxKeys = 100_000

// maxAliasesPerKey is how many aliases may name one key (AWS's quota).
const maxAliasesPerKey = 50

// maxKeys is the account's key quota (Options.MaxKeys).
func (o *Options) maxKeys() uint64 {
	if o.MaxKeys <= 0 {
		return DefaultMaxKeys
	}
	return uint64(o.MaxKeys)
}

// AdminCredentialFile is the file, in the data directory, where serve's
// first start writes the first admin credential (unless told to write it
// elsewhere).
const AdminCredentialFile = "admin-credential.json"

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

// rootKeyName names the root key in messages.
func (o *Options) rootKeyName() string {
	r, err := o.rootKeySpec()
	if err != nil {
		return "the root key"
	}
	return r.String()
}

// How long Open and Init wait for a shared store's database, and Open for
// the node to follow its changes.
const (
	sharedOpenTimeout = 30 * time.Second
)

// IsInitialised reports whether dataDir holds a store.
func IsInitialised(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, dbFile))
	return err == nil
}

// remnants are the files a store keeps beside its embedded database that
// opts's data directory holds: its root key (the default one, in the
// directory), its audit log (and rotated ones), the admin credential file
// serve's first start writes. A database missing beside them is a lost
// store, never a new one to make.
func remnants(opts Options) []string {
	if opts.DataDir == "" && opts.AuditPath == "" {
		return nil
	}
	var found []string
	add := func(p string) {
		if _, err := os.Lstat(p); err == nil {
			found = append(found, p)
		}
	}
	if opts.DataDir != "" {
		if opts.defaultRootKey() {
			add(filepath.Join(opts.DataDir, rootKeyFile))
		}
		add(filepath.Join(opts.DataDir, AdminCredentialFile))
		add(filepath.Join(opts.DataDir, nodeFile))
		add(filepath.Join(opts.DataDir, protectedMarker))
		add(filepath.Join(opts.DataDir, digestedMarker))
		add(filepath.Join(opts.DataDir, recordsGenMarker))
		add(filepath.Join(opts.DataDir, historyMarker))
	}
	add(opts.auditPath())
	if rotated, _ := filepath.Glob(opts.auditPath() + ".[0-9]*"); len(rotated) > 0 {
		found = append(found, rotated[0])
	}
	return found
}

// missingStore is ErrStoreMissing naming what dir holds, or nil if it
// holds nothing of a store.
func missingStore(opts Options, db string) error {
	found := remnants(opts)
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s does not exist, but %s is there: the rest of a store", ErrStoreMissing, db, strings.Join(found, ", "))
}

// InitOnStart reports whether serve initialises the store opts names on
// its first start: an embedded store (bbolt) whose file does not exist yet.
// A shared store (PostgreSQL) is made by attestkms init, never by a node
// starting: nodes that start together must not race to make accounts.
func InitOnStart(opts Options) bool {
	sp, err := opts.storeSpec()
	if err != nil || sp.shared() {
		return false
	}
	if _, node, _ := readNode(opts.DataDir); node {
		return false // Open says whose directory it is
	}
	_, err = os.Stat(sp.path)
	return errors.Is(err, fs.ErrNotExist)
}

// Init creates a new store where opts names it (Options.Store): the data
// directory (0700) if there is one, the root key (unless opts.RootKeyFile
// names an existing one), the account and the first admin credential,
// which it returns. It refuses a store that exists already
// (ErrAlreadyInitialised): a database holding a store never gets a second
// account.
func Init(opts Options) (*Account, *Credential, error) {
	sp, err := opts.storeSpec()
	if err != nil {
		return nil, nil, err
	}
	region, err := opts.region()
	if err != nil {
		return nil, nil, err
	}
	rk, err := opts.rootKeySpec()
	if err != nil {
		return nil, nil, err
	}
	if sp.shared() {
		if opts.defaultRootKey() && opts.DataDir == "" {
			return nil, nil, errors.New("no root key given: the nodes of a shared store share one")
		}
	} else if _, err := os.Stat(sp.path); err == nil {
		return nil, nil, fmt.Errorf("%w: %s (refusing to overwrite it)", ErrAlreadyInitialised, opts.DataDir)
	} else if n, node, _ := readNode(opts.DataDir); node {
		return nil, nil, fmt.Errorf("%w: %s is the data directory of %s, a node of a shared store", ErrStoreMismatch, opts.DataDir, n.NodeID)
	} else if err := missingStore(opts, sp.path); err != nil {
		return nil, nil, err
	}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, nil, err
		}
		if err := os.Chmod(opts.DataDir, 0o700); err != nil {
			return nil, nil, err
		}
	}
	// made: the root key is this Init's (a file is removed if Init fails;
	// a key generated in a token stays there, unused).
	sl, made, err := openRootKey(rk, true)
	if err != nil {
		return nil, nil, err
	}
	defer sl.Close()
	acct := Account{AccountID: randomDigits(12), ProjectID: randomHex(16)}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	cred := newCredential(adminName, now)
	// One transaction: the meta and the first credential, or no store (a
	// crash leaves none half-made behind).
	if sp.shared() {
		ctx, cancel := context.WithTimeout(context.Background(), sharedOpenTimeout)
		defer cancel()
		err = postgres.Create(ctx, sp.url, postgres.Options{Password: opts.StorePassword}, initialise(sl, acct, region, cred))
		if errors.Is(err, store.ErrExists) {
			err = fmt.Errorf("%w: the database holds an attestkms store (refusing to make a second account)", ErrAlreadyInitialised)
		}
	} else if err = bolt.Create(sp.path, initialise(sl, acct, region, cred)); err != nil {
		err = fmt.Errorf("init %s: %w", opts.DataDir, err)
	}
	if err != nil {
		if made && rk.kind == RootKeyFile {
			os.Remove(rk.arg)
		}
		return nil, nil, err
	}
	return &acct, cred, nil
}

// initialise is what a new store holds, written in its first transaction
// (whatever the implementation): the account, the region, the root key's
// check, and the account's root credential cred, sealed; every record
// authenticated and digested (the root check is v3: a new store is so from
// its first transaction).
func initialise(sl *sealer.Sealer, acct Account, region string, cred *Credential) func(store.Txn) error {
	return store.AuthenticatedCreate(sl, func(tx store.Txn) error {
		check, err := store.SealRootCheck(sl)
		if err != nil {
			return err
		}
		m := &store.Meta{AccountID: acct.AccountID, ProjectID: acct.ProjectID, Region: region, RootCheck: check}
		// The answer-signing key (servicekey.go): made with the store.
		sk := newServiceKeyRecord(time.Now())
		m.ServiceKeys, err = sealServiceKeys(sl, []serviceKeyRecord{sk})
		clear(sk.PrivateKey)
		if err != nil {
			return err
		}
		if err := tx.PutMeta(m); err != nil {
			return err
		}
		rec := &store.Credential{AccessKeyID: cred.AccessKeyID, Name: cred.Name, CreatedAt: cred.CreatedAt}
		if err := store.SealCredential(sl, rec, []byte(cred.SecretAccessKey)); err != nil {
			return err
		}
		return tx.CreateCredential(rec)
	})
}

// Open opens the store opts names (Options.Store). An embedded store
// (bbolt) is one process's at a time. A shared store (PostgreSQL) is opened
// by every node, each with its own data directory, which Open locks and
// makes a node of that store on first use (node.go); the Service then
// follows what the other nodes change (follow.go), and Open returns once it
// does.
func Open(opts Options) (*Service, error) {
	sp, err := opts.storeSpec()
	if err != nil {
		return nil, err
	}
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
	if sp.shared() {
		return openShared(opts, sp, region)
	}
	if _, err := os.Stat(sp.path); err != nil {
		if n, ok, _ := readNode(opts.DataDir); ok {
			return nil, fmt.Errorf("%w: %s is the data directory of %s, a node of a shared store, and holds no store of its own", ErrNotInitialised, opts.DataDir, n.NodeID)
		}
		if err := missingStore(opts, sp.path); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s (run attestkms init)", ErrNotInitialised, opts.DataDir)
	}
	sl, err := openRoot(opts)
	if err != nil {
		return nil, err
	}
	st, err := openStore(sp.path)
	if err != nil {
		sl.Close()
		return nil, err
	}
	s, err := newService(opts, st, sl, region, func(Account) (string, error) { return "", nil })
	if err != nil {
		st.Close()
		sl.Close()
		return nil, damagedAt(err, sp.path)
	}
	return s, nil
}

// damagedAt names file in err if it is ErrStoreDamaged and does not name
// it yet (a sealed value that does not open: the sealing knows no file).
func damagedAt(err error, file string) error {
	if err == nil || !errors.Is(err, ErrStoreDamaged) || strings.Contains(err.Error(), file) {
		return err
	}
	return &namedError{msg: fmt.Sprintf("%v: %s: %s", ErrStoreDamaged, file, strings.TrimPrefix(err.Error(), ErrStoreDamaged.Error()+": ")), err: err}
}

// namedError is err (which errors.Is still finds) said otherwise.
type namedError struct {
	msg string
	err error
}

func (e *namedError) Error() string { return e.msg }
func (e *namedError) Unwrap() error { return e.err }

// openRoot opens the root key opts names and makes its sealer, which the
// caller closes.
func openRoot(opts Options) (*sealer.Sealer, error) {
	r, err := opts.rootKeySpec()
	if err != nil {
		return nil, err
	}
	sl, _, err := openRootKey(r, false)
	return sl, err
}

// openShared is Open of a shared store: lock the node's directory, open
// the database, name the node's chain, follow the store.
func openShared(opts Options, sp storeSpec, region string) (*Service, error) {
	if err := prepareDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	unlock, err := lockNode(opts.DataDir)
	if err != nil {
		return nil, err
	}
	sl, err := openRoot(opts)
	if err != nil {
		unlock()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, sp.url, postgres.Options{Password: opts.StorePassword})
	if err != nil {
		sl.Close()
		unlock()
		return nil, err
	}
	s, err := newService(opts, st, sl, region, func(acct Account) (string, error) {
		return nodeOf(opts.DataDir, opts.auditPath(), acct)
	})
	if err != nil {
		st.Close()
		sl.Close()
		unlock()
		return nil, err
	}
	s.unlockNode = unlock
	if err := s.startFollowing(ctx, st); err != nil {
		s.Close()
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
// sl's: it checks the root key, names its audit chain (chainOf the store's
// account: "" for a store one process holds, the node's id for a shared
// one), opens the audit log (resolving the change record a stop may have
// left unresolved), reconciles the region and loads the credentials.
func newService(opts Options, st store.Store, sl *sealer.Sealer, region string, chainOf func(Account) (string, error)) (*Service, error) {
	s := &Service{opts: opts, now: opts.Now, sealer: sl, keys: newKeyCache(), log: opts.Logger}
	s.auth = store.Authenticate(st, sl, s.logBadRecord)
	s.st = s.auth
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// The root key first, read as stored: a root key that is not the
	// store's says so, rather than that the meta does not verify.
	err := st.View(context.Background(), func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		return checkRoot(sl, m, opts)
	})
	if err != nil {
		return nil, err
	}
	var changeSeq uint64
	err = s.view(context.Background(), func(r store.Reader) error {
		m, err := r.Meta() // verified: a v2 or v3 root check marks the store authenticated (v3: digested)
		if err != nil {
			return err
		}
		s.account = Account{AccountID: m.AccountID, ProjectID: m.ProjectID}
		if s.chain, err = chainOf(s.account); err != nil {
			return err
		}
		changeSeq, err = r.AuditChangeSeq(s.chain)
		return err
	})
	if err != nil {
		return nil, integrityDamage(err)
	}
	// Before anything is written — the audit log's lines, a region
	// recorded or moved, which MAC what they write —: a store whose records
	// are not authenticated is refused, by a data directory that opened it
	// authenticated as damaged, and by any other unless told to
	// authenticate it (ProtectRecords). Else a database writer who put back
	// a v1 root check could have a region move MAC a key policy it changed
	// and then be refused (a review found it).
	if err := s.checkProtectedMarker(opts.DataDir); err != nil {
		return nil, err
	}
	if !s.auth.Required() && !opts.ProtectRecords {
		return nil, fmt.Errorf("%w: its records are not authenticated (the store was made by an attestkms from before records were: its root check is v1): authenticate them once, with every server of the store stopped, by attestkms store protect (docs/rootkey.md, \"Upgrading a store\"); nothing was written", ErrUnprotected)
	}
	if !s.auth.Digested() && !opts.ProtectRecords {
		return nil, fmt.Errorf("%w: its records are not digested (the store was made by an attestkms from before the records digest: its root check is v2): digest its records once, with every server of the store stopped, by attestkms store protect (docs/rootkey.md, \"Upgrading a store\"); nothing was written", ErrUnprotected)
	}
	// The log first: a region move is a change, recorded with it.
	s.audit, err = audit.Open(audit.Options{Path: opts.auditPath(), MaxSize: opts.AuditMaxSize, CommitDelay: opts.AuditCommitDelay, Now: s.now, ChangeSeq: changeSeq, OpenFile: auditOpenFile})
	if err != nil {
		return nil, err
	}
	// The region before the records' MACs (protect.go): an Open refused
	// for its region writes nothing.
	s.region, err = s.openRegion(region, opts.RenameRegion, opts.StoredRegion)
	if err == nil && !s.auth.Digested() {
		err = s.protectRecords() // told to (ProtectRecords): refused above otherwise
	}
	var digest *store.RecordsDigest
	if err == nil {
		// Every record against the digest: one put back, deleted or
		// added while no server watched is found before this one serves.
		digest, err = s.verifyDigest(context.Background())
	}
	if err == nil {
		s.creds, err = loadCredentials(context.Background(), s.st, sl, s.account, s.now)
	}
	if err == nil {
		err = s.loadServiceKeys(context.Background())
	}
	if err == nil {
		// Last: an Open refused for anything writes no marker.
		err = markProtected(opts.DataDir)
	}
	if err == nil {
		s.noteDigest(digest)
	}
	if err != nil {
		s.audit.Close()
		return nil, integrityDamage(err)
	}
	return s, nil
}

// integrityDamage is err, as ErrStoreDamaged too if a record failed its
// integrity check (Open refuses the store: restore it from a backup).
func integrityDamage(err error) error {
	if errors.Is(err, store.ErrIntegrity) && !errors.Is(err, ErrStoreDamaged) {
		return fmt.Errorf("%w: %w", ErrStoreDamaged, err)
	}
	return err
}

// auditOpenFile opens the audit log's files: a test seam (writes that
// fail), os.OpenFile outside tests.
var auditOpenFile func(name string, flag int, perm os.FileMode) (audit.File, error)

// StoredAuditChangeSeq is the seq of the last change record that the store
// opts names committed on the audit chain of opts.DataDir (the store's
// audit_change_seq for a store one process holds, the node's for a node of
// a shared store; 0 if none), for attestkms audit verify: the log must
// reach it. An embedded store is opened read-only, and fails with
// ErrStoreInUse while a server holds it; a shared store is read while its
// nodes run (a change's record is durable in the log before the seq that
// names it commits, so a seq read first is reached by the log read next).
// chain is the chain's name ("" for a store one process holds).
func StoredAuditChangeSeq(opts Options) (seq uint64, chain string, err error) {
	sp, err := opts.storeSpec()
	if err != nil {
		return 0, "", err
	}
	var st store.Store
	if sp.shared() {
		id, ok, err := NodeID(opts.DataDir)
		if err != nil {
			return 0, "", err
		}
		if !ok {
			return 0, "", fmt.Errorf("%w: %s is not the data directory of a node (it has no %s)", ErrNotInitialised, opts.DataDir, nodeFile)
		}
		chain = id
		ctx, cancel := context.WithTimeout(context.Background(), sharedOpenTimeout)
		defer cancel()
		pst, err := postgres.Open(ctx, sp.url, postgres.Options{Password: opts.StorePassword})
		if err != nil {
			return 0, "", err
		}
		st = pst
	} else {
		if _, err := os.Stat(sp.path); err != nil {
			if err := missingStore(opts, sp.path); err != nil {
				return 0, "", err
			}
			return 0, "", fmt.Errorf("%w: %s", ErrNotInitialised, opts.DataDir)
		}
		bst, err := bolt.Open(sp.path, bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
		switch {
		case errors.Is(err, store.ErrInUse):
			return 0, "", fmt.Errorf("%w: %s", ErrStoreInUse, opts.DataDir)
		case errors.Is(err, store.ErrNotAStore):
			return 0, "", fmt.Errorf("%s is not an attestkms store: %w", sp.path, err)
		case err != nil:
			return 0, "", err
		}
		st = bst
	}
	defer st.Close()
	err = st.View(context.Background(), func(r store.Reader) error {
		seq, err = r.AuditChangeSeq(chain)
		return err
	})
	return seq, chain, err
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

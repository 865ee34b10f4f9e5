package store

import (
	"context"
	"errors"
	"time"
)

// Store is one account's keys, aliases, credentials and meta (package doc).
// Its methods are safe for concurrent use.
type Store interface {
	// View runs fn in a read-only transaction: every read in fn sees one
	// consistent state of the store. fn's error is returned as it is.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a read-write transaction and commits what fn wrote
	// if fn returns nil: all of it or, if fn or the commit fails, none of it.
	// fn's error is returned as it is; a failed commit returns the
	// implementation's error. Update never retries fn (fn may have done
	// what cannot be undone, such as writing an audit record): a caller that
	// gets ErrConflict may run a new Update.
	Update(ctx context.Context, fn func(Txn) error) error
	// Key reads key id in a transaction of its own (ErrNotFound if there is
	// none): the one read of a key that is not cached.
	Key(ctx context.Context, id string) (*Key, error)
	// Alias reads alias name (alias/NAME) in a transaction of its own
	// (ErrNotFound if there is none).
	Alias(ctx context.Context, name string) (*Alias, error)
	// TryLock takes the store-wide lock name for work that must run once
	// among all the processes that share the store (maintenance), without
	// waiting: ErrHeld if another holder has it. release gives it back; a
	// holder that dies loses it (PostgreSQL: a session advisory lock).
	TryLock(ctx context.Context, name string) (release func(), err error)
	// Close closes the store. It waits for running transactions; every
	// method called after it returns ErrClosed.
	Close() error
}

// Reader reads records. In a View they are of one snapshot; in a Txn they
// include what the Txn wrote, and Meta, Key, Alias and Credential lock the
// record they read until the Txn ends, so that a read-modify-write in one
// Update never loses another's change (SQL: SELECT … FOR UPDATE). A Reader
// is valid only inside the function it was given to, and is not for
// concurrent use. Records returned are the caller's: changing one changes
// nothing until it is written.
type Reader interface {
	// Meta is the store's meta (Meta), made by Init.
	Meta() (*Meta, error)
	// AuditChangeSeq is the seq of the last change record committed on
	// chain (0 if none): "" is the store's one chain, the only one a
	// single-node store has (package doc, "The audit change seq").
	AuditChangeSeq(chain string) (uint64, error)

	// Key is key id, or ErrNotFound.
	Key(id string) (*Key, error)
	// Keys are up to limit keys (limit > 0) whose ids are start or after
	// it, in byte order of their ids. "" starts at the first.
	Keys(start string, limit int) ([]*Key, error)

	// Alias is alias name, or ErrNotFound.
	Alias(name string) (*Alias, error)
	// Aliases are up to limit aliases (limit > 0) whose names are start or
	// after it, in byte order of their names.
	Aliases(start string, limit int) ([]*Alias, error)
	// AliasesOf are the aliases naming key id, in byte order of their names:
	// none if there are none or no such key.
	AliasesOf(keyID string) ([]*Alias, error)

	// Credential is the credential of accessKeyID, or ErrNotFound.
	Credential(accessKeyID string) (*Credential, error)
	// Credentials are every credential, in byte order of their access key
	// ids: a store holds a few.
	Credentials() ([]*Credential, error)

	// RecordsDigest is the store's digest of its records (digest.go), or
	// ErrNotFound if it has none (a store whose root check is older than
	// v3). In a Txn it locks the digest until the Txn ends, as Meta locks
	// the meta.
	RecordsDigest() (*RecordsDigest, error)
}

// Txn is a read-write transaction (Update). Writes take effect when Update
// commits, and are visible to the Txn's own reads before. On success a
// write sets the Version of the record it was given to the record's new
// version, which is valid once Update has returned nil.
type Txn interface {
	Reader

	// PutMeta writes the store's meta: at Init, and to record a region.
	PutMeta(m *Meta) error
	// SetAuditChangeSeq records seq as the last change record committed on
	// chain, in this transaction (package doc).
	SetAuditChangeSeq(chain string, seq uint64) error
	// PutRecordsDigest writes the store's records digest (digest.go: the
	// Authenticated store writes it, after the records it sums).
	PutRecordsDigest(d *RecordsDigest) error

	// CreateKey writes a new key: ErrExists if its id is taken. Its Version
	// is ignored.
	CreateKey(k *Key) error
	// PutKey replaces key k.ID with k, which must have been read in this
	// transaction (or written by it): ErrNotFound if the key is gone,
	// ErrConflict if it changed since k was read (k.Version is not the
	// stored one's).
	PutKey(k *Key) error
	// DeleteKey deletes key id and every alias naming it: ErrNotFound if
	// there is no such key.
	DeleteKey(id string) error

	// CreateAlias writes a new alias: ErrExists if its name is taken,
	// ErrNotFound if the key it names does not exist.
	CreateAlias(a *Alias) error
	// PutAlias replaces alias a.Name with a, read in this transaction as
	// PutKey's record is (ErrNotFound, ErrConflict as PutKey's): this is how
	// an alias moves to another key, atomically. ErrNotFound too if the key
	// it names does not exist.
	PutAlias(a *Alias) error
	// DeleteAlias deletes alias name: ErrNotFound if there is none.
	DeleteAlias(name string) error

	// CreateCredential writes a new credential: ErrExists if its access
	// key id or its name is taken.
	CreateCredential(c *Credential) error
	// DeleteCredential deletes the credential of accessKeyID: ErrNotFound if
	// there is none.
	DeleteCredential(accessKeyID string) error
}

// Errors every implementation returns, wrapped or not (errors.Is): callers
// branch on these, never on an implementation's own.
var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a record with that id or name exists already.
	ErrExists = errors.New("store: already exists")
	// ErrConflict: the record changed since it was read, or a concurrent
	// transaction made this one fail; nothing was written. A new Update
	// may succeed.
	ErrConflict = errors.New("store: changed concurrently")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrHeld: TryLock's lock has another holder.
	ErrHeld = errors.New("store: lock held by another")
	// ErrInUse: another process has the store open (bbolt's file lock).
	ErrInUse = errors.New("store: in use by another process")
	// ErrDamaged: the store's data fails its integrity checks: a file
	// truncated or not of the storage library's format, a damaged page (the
	// library's own check, or a panic in it, recovered), a record that does
	// not decode. Its message names the file.
	ErrDamaged = errors.New("store damaged")
	// ErrNotAStore: what was opened is not a store of this schema.
	ErrNotAStore = errors.New("store: not an attestkms store of this schema")
)

// Meta is what a store records about itself.
type Meta struct {
	AccountID string // 12 digits: key ARNs name it
	ProjectID string // 32 hex digits: Huawei requests name it
	// Region is the service's one region; "" in a store made before regions
	// were recorded (kms reads us-east-1 and records it).
	Region string
	// RootCheck is a value sealed under the root key (SealRootCheck) that
	// proves a root key is the store's (CheckRoot).
	RootCheck []byte
	// ServiceKeys is the service's answer-signing key set, sealed under the
	// root key (kms/servicekey.go: JSON of the keys, sealed with purpose
	// "service-keys"); nil in a store made before answers were signed
	// (kms generates a key on the first Open that can write).
	ServiceKeys []byte
	// MAC authenticates the fields above under the root key (mac.go);
	// nil in a store made before records were authenticated.
	MAC []byte
}

// Key is a key as stored: its attributes, its policy and tags, and every
// version of its material, sealed. The JSON names are the record's encoding
// in bbolt, and in any implementation that keeps a record as one document:
// changing one is a schema change.
type Key struct {
	ID                 string     `json:"id"` // a UUID, lower-case
	CreatedAt          time.Time  `json:"created_at"`
	Description        string     `json:"description,omitempty"`
	Spec               string     `json:"spec"`  // kms.KeySpec
	Usage              string     `json:"usage"` // kms.KeyUsage
	State              string     `json:"state"` // kms.KeyState
	DeletionDate       *time.Time `json:"deletion_date,omitempty"`
	PendingWindowDays  int32      `json:"pending_window_days,omitempty"`
	Policy             string     `json:"policy"` // the key policy, JSON, as given
	Tags               []Tag      `json:"tags,omitempty"`
	RotationEnabled    bool       `json:"rotation_enabled,omitempty"`
	RotationPeriodDays int32      `json:"rotation_period_days,omitempty"`
	NextRotation       *time.Time `json:"next_rotation,omitempty"`
	// Materials are the versions of the key's material, oldest first; the
	// last is the current one. A key has at least one.
	Materials []Material `json:"materials"`
	PublicKey []byte     `json:"public_key,omitempty"` // DER SubjectPublicKeyInfo of asymmetric keys
	// MAC authenticates every field above under the root key (mac.go);
	// absent in a record made before records were authenticated.
	MAC []byte `json:"mac,omitempty"`

	// Version identifies the record's state (package doc, "Versions"); it
	// is not part of the record's encoding.
	Version uint64 `json:"-"`
}

// Current is the key's current material: its last.
func (k *Key) Current() *Material { return &k.Materials[len(k.Materials)-1] }

// Material is one version of a key's material, sealed (SealMaterial).
type Material struct {
	Version      uint32    `json:"version"` // 1, 2, …: part of the sealed value's binding
	ID           string    `json:"id"`      // KeyMaterialId: 64 hex digits
	CreatedAt    time.Time `json:"created_at"`
	RotationType string    `json:"rotation_type,omitempty"` // "" for the original material, AUTOMATIC or ON_DEMAND
	Sealed       []byte    `json:"sealed"`
}

// Tag is a key's tag (kms.Tag).
type Tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// Alias is an alias as stored: a name for a key.
type Alias struct {
	Name      string    `json:"name"` // alias/NAME
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	MAC       []byte    `json:"mac,omitempty"` // as Key's

	Version uint64 `json:"-"` // as Key's
}

// Credential is an access key pair as stored: its secret sealed
// (SealCredential), bound to what limits or grants it. The fields after
// CreatedAt are absent from records made before they existed, and from
// records that do not use them.
type Credential struct {
	AccessKeyID    string     `json:"access_key_id"`
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	Admin          bool       `json:"admin,omitempty"`
	IdentityPolicy string     `json:"identity_policy,omitempty"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Sealed         []byte     `json:"sealed_secret"`
	MAC            []byte     `json:"mac,omitempty"` // as Key's

	Version uint64 `json:"-"` // as Key's
}

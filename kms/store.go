package kms

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// The store is one bbolt file. bbolt commits each write transaction with an
// fsync before Update returns, so an operation that has answered a client has
// its effect on disk: a CreateKey that succeeded survives kill -9 at any
// instant after it. Records are JSON; key material and credential secrets are
// sealed under the root key (package sealer) and never stored in the clear.
var (
	bucketMeta        = []byte("meta")
	bucketKeys        = []byte("keys")
	bucketAliases     = []byte("aliases")
	bucketCredentials = []byte("credentials")

	metaAccountID = []byte("account_id")
	metaProjectID = []byte("project_id")
	metaRootCheck = []byte("root_check")
	metaSchema    = []byte("schema")
	metaRegion    = []byte("region") // absent in stores made before it: us-east-1
)

const (
	schemaVersion = "1"
	// Purposes for sealed values (package sealer binds them as associated data).
	purposeRootCheck  = "root-check"
	purposeMaterial   = "key-material"
	purposeCredential = "credential-secret"
	// purposeScopedCredential seals the secret of a credential with an
	// admin permission (but the root's), an identity policy or an expiry,
	// bound to them (credentialRecord.sealedAs).
	purposeScopedCredential = "credential-secret-scoped"
	// maxCachedKeys bounds the decoded-key cache; past it an arbitrary entry is
	// dropped (it is rebuilt from the database on its next use).
	maxCachedKeys = 10000
)

var rootCheckValue = []byte("attestkms root key check v1")

// keyRecord is a key as stored.
type keyRecord struct {
	ID                 string           `json:"id"`
	CreatedAt          time.Time        `json:"created_at"`
	Description        string           `json:"description,omitempty"`
	Spec               KeySpec          `json:"spec"`
	Usage              KeyUsage         `json:"usage"`
	State              KeyState         `json:"state"`
	DeletionDate       *time.Time       `json:"deletion_date,omitempty"`
	PendingWindowDays  int32            `json:"pending_window_days,omitempty"`
	Policy             string           `json:"policy"`
	Tags               []Tag            `json:"tags,omitempty"`
	RotationEnabled    bool             `json:"rotation_enabled,omitempty"`
	RotationPeriodDays int32            `json:"rotation_period_days,omitempty"`
	NextRotation       *time.Time       `json:"next_rotation,omitempty"`
	Materials          []materialRecord `json:"materials"`
	PublicKey          []byte           `json:"public_key,omitempty"` // DER SubjectPublicKeyInfo of asymmetric keys
}

// materialRecord is one version of a key's material, sealed.
type materialRecord struct {
	Version      uint32    `json:"version"`
	ID           string    `json:"id"` // KeyMaterialId: 64 hex digits
	CreatedAt    time.Time `json:"created_at"`
	RotationType string    `json:"rotation_type,omitempty"` // "" for the original material, AUTOMATIC or ON_DEMAND
	Sealed       []byte    `json:"sealed"`
}

func (r *keyRecord) current() *materialRecord { return &r.Materials[len(r.Materials)-1] }

type aliasRecord struct {
	Name      string    `json:"name"` // with the alias/ prefix
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// credentialRecord is a credential as stored (credentials.go). The fields
// after CreatedAt are absent from records made before they existed, and
// from records that do not use them (sealedAs).
type credentialRecord struct {
	AccessKeyID    string     `json:"access_key_id"`
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	Admin          bool       `json:"admin,omitempty"`
	IdentityPolicy string     `json:"identity_policy,omitempty"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Sealed         []byte     `json:"sealed_secret"`
}

// store wraps the bbolt database with a cache of decoded keys.
//
// Locking: every write transaction runs under mu.Lock and drops the cache
// entries it changes before unlocking; readers hold mu.RLock while they look
// up the cache or read the database and fill the cache. So a reader never
// caches a record older than one a writer has committed.
type store struct {
	db     *bolt.DB
	sealer *sealer.Sealer

	mu      sync.RWMutex
	cacheMu sync.Mutex
	cache   map[string]*key
}

func openDB(path string, readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (stop the running server first)", ErrStoreInUse, path)
	}
	return db, err
}

func (s *store) close() error {
	s.cacheMu.Lock()
	for id, k := range s.cache {
		delete(s.cache, id)
		k.release()
	}
	s.cacheMu.Unlock()
	return s.db.Close()
}

func getJSON(b *bolt.Bucket, k []byte, v any) (bool, error) {
	raw := b.Get(k)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// drop drops the cached keys ids; the caller holds mu.
func (s *store) drop(ids []string) {
	if len(ids) == 0 {
		return
	}
	s.cacheMu.Lock()
	for _, id := range ids {
		if k, ok := s.cache[id]; ok {
			delete(s.cache, id)
			k.release()
		}
	}
	s.cacheMu.Unlock()
}

// view runs fn in a read transaction. A done ctx starts none (ErrCanceled).
func (s *store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := canceled(ctx); err != nil {
		return err
	}
	return s.db.View(fn)
}

// loadKey returns the decoded key id, from the cache or the database; nil if
// there is none. The caller must call release on a key it got.
func (s *store) loadKey(ctx context.Context, id string) (*key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.cacheMu.Lock()
	k := s.cache[id]
	if k != nil {
		k.refs.Add(1)
	}
	s.cacheMu.Unlock()
	if k != nil {
		return k, nil
	}
	var rec keyRecord
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucketKeys), []byte(id), &rec)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	k, err = decodeKey(s.sealer, &rec)
	if err != nil {
		return nil, err
	}
	k.refs.Store(2) // the cache's and the caller's
	s.cacheMu.Lock()
	if old := s.cache[id]; old != nil { // another reader got here first
		delete(s.cache, id)
		old.release()
	}
	if len(s.cache) >= maxCachedKeys {
		for victim, vk := range s.cache {
			delete(s.cache, victim)
			vk.release()
			break
		}
	}
	s.cache[id] = k
	s.cacheMu.Unlock()
	return k, nil
}

// listPage returns up to limit keys of bucket starting at marker, and the
// marker of the next page ("" when there is none).
func listPage(b *bolt.Bucket, marker string, limit int, visit func(k, v []byte) (bool, error)) (string, error) {
	start := []byte(nil)
	if marker != "" {
		m, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil || len(m) == 0 {
			return "", errorf(ErrInvalidMarker, "Marker is not valid")
		}
		start = m
	}
	c := b.Cursor()
	var k, v []byte
	if start == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(start)
	}
	n := 0
	for ; k != nil; k, v = c.Next() {
		if n == limit {
			return base64.RawURLEncoding.EncodeToString(bytes.Clone(k)), nil
		}
		ok, err := visit(k, v)
		if err != nil {
			return "", err
		}
		if ok {
			n++
		}
	}
	return "", nil
}

package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// A Credential is an access key pair. The same pair signs requests of every
// dialect (AWS SigV4, Huawei SDK-HMAC-SHA256, Tencent TC3-HMAC-SHA256): each of
// those schemes needs the secret itself to check a signature, so it is stored
// sealed under the root key, not hashed.
type Credential struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	Name            string `json:"name"`
	CreatedAt       time.Time
}

// CredentialInfo describes a credential without its secret.
type CredentialInfo struct {
	AccessKeyID  string    `json:"access_key_id"`
	Name         string    `json:"name"`
	PrincipalARN string    `json:"principal_arn"`
	CreatedAt    time.Time `json:"created_at"`
}

const adminName = "admin"

var credentialNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

func newCredential(name string, now time.Time) *Credential {
	var id [10]byte
	var secret [30]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	return &Credential{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
		Name:            name,
		CreatedAt:       now.UTC(),
	}
}

func putCredential(tx *bolt.Tx, sl *sealer.Sealer, c *Credential) error {
	rec := credentialRecord{
		AccessKeyID: c.AccessKeyID,
		Name:        c.Name,
		CreatedAt:   c.CreatedAt,
		Sealed:      sl.Seal(purposeCredential, []byte(c.AccessKeyID), []byte(c.SecretAccessKey)),
	}
	return putJSON(tx.Bucket(bucketCredentials), []byte(c.AccessKeyID), &rec)
}

func principalARN(acct Account, name string) string {
	if name == adminName {
		return "arn:aws:iam::" + acct.AccountID + ":root"
	}
	return "arn:aws:iam::" + acct.AccountID + ":user/" + name
}

type cachedCredential struct {
	secret    []byte
	principal *Principal
	createdAt time.Time
}

// Credentials are the store's access keys as the dialects see them: a
// lookup of the secret that signs a request, for the signature check, and
// of the principal it authenticates. Managing them is Admin's.
//
// The opened secrets are cached here; the cache's slices are never handed
// out (Lookup copies), so that deleting a credential may zero its secret
// while a request signed with it is still being checked.
type Credentials struct {
	mu sync.RWMutex
	m  map[string]*cachedCredential
}

func loadCredentials(db *bolt.DB, sl *sealer.Sealer, acct Account) (*Credentials, error) {
	cc := &Credentials{m: map[string]*cachedCredential{}}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCredentials).ForEach(func(k, v []byte) error {
			var rec credentialRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			secret, err := sl.Open(purposeCredential, []byte(rec.AccessKeyID), rec.Sealed)
			if err != nil {
				return fmt.Errorf("credential %s: %w", rec.AccessKeyID, err)
			}
			cc.m[rec.AccessKeyID] = &cachedCredential{
				secret:    secret,
				createdAt: rec.CreatedAt,
				principal: &Principal{AccessKeyID: rec.AccessKeyID, Name: rec.Name, ARN: principalARN(acct, rec.Name)},
			}
			return nil
		})
	})
	return cc, err
}

// Credentials returns the store's credentials, for the dialects'
// authentication.
func (s *Service) Credentials() *Credentials { return s.creds }

// Lookup returns the secret access key of accessKeyID and the principal it
// authenticates, or ok=false if there is no such key. The secret is a copy:
// the caller owns it and zeroes it once the signature is checked.
func (c *Credentials) Lookup(accessKeyID string) (secret []byte, p *Principal, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cc, ok := c.m[accessKeyID]
	if !ok {
		return nil, nil, false
	}
	pc := *cc.principal
	return bytes.Clone(cc.secret), &pc, true
}

// CreateCredential makes a new access key pair named name. The secret is
// returned here once and cannot be read back later.
func (a *Admin) CreateCredential(ctx context.Context, name string) (*Credential, error) {
	s := a.s
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if !credentialNameRE.MatchString(name) {
		return nil, errorf(ErrValidation, "credential name must be 1-64 characters of A-Z a-z 0-9 +=,.@_-")
	}
	s.creds.mu.Lock()
	defer s.creds.mu.Unlock()
	for _, c := range s.creds.m {
		if c.principal.Name == name {
			return nil, errorf(ErrAlreadyExists, "a credential named %q exists", name)
		}
	}
	cred := newCredential(name, s.now())
	err := s.st.update(ctx, func(tx *bolt.Tx) error { return putCredential(tx, s.st.sealer, cred) })
	if err != nil {
		return nil, err
	}
	s.creds.m[cred.AccessKeyID] = &cachedCredential{
		secret:    []byte(cred.SecretAccessKey),
		createdAt: cred.CreatedAt,
		principal: &Principal{AccessKeyID: cred.AccessKeyID, Name: name, ARN: principalARN(s.account, name)},
	}
	return cred, nil
}

// ListCredentials lists the credentials, without secrets, by name.
func (a *Admin) ListCredentials() []CredentialInfo {
	s := a.s
	s.creds.mu.RLock()
	defer s.creds.mu.RUnlock()
	out := make([]CredentialInfo, 0, len(s.creds.m))
	for id, c := range s.creds.m {
		out = append(out, CredentialInfo{AccessKeyID: id, Name: c.principal.Name, PrincipalARN: c.principal.ARN, CreatedAt: c.createdAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteCredential removes an access key. It refuses to remove the last one,
// which would leave nobody able to call the service.
func (a *Admin) DeleteCredential(ctx context.Context, accessKeyID string) error {
	s := a.s
	if err := canceled(ctx); err != nil {
		return err
	}
	s.creds.mu.Lock()
	defer s.creds.mu.Unlock()
	c, ok := s.creds.m[accessKeyID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrCredentialNotFound, accessKeyID)
	}
	if len(s.creds.m) == 1 {
		return errorf(ErrValidation, "refusing to delete the last credential: create another first")
	}
	err := s.st.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCredentials).Delete([]byte(accessKeyID))
	})
	if err != nil {
		return err
	}
	delete(s.creds.m, accessKeyID)
	clear(c.secret) // the cache's own copy: lookups got theirs
	return nil
}

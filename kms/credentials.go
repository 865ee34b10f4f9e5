package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/attestkms/attestkms/kms/internal/policy"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// A Credential is an access key pair. The same pair signs requests of every
// dialect (AWS SigV4, Huawei SDK-HMAC-SHA256, Tencent TC3-HMAC-SHA256): each of
// those schemes needs the secret itself to check a signature, so it is stored
// sealed under the root key, not hashed.
//
// Besides its pair a credential has a name (its principal is
// arn:aws:iam::ACCOUNT:user/NAME, or the account's root for the one named
// admin), and may have the admin permission (it may manage credentials
// through the admin API), an identity policy (which narrows what the key
// policies that delegate to the account allow it: docs/policy.md) and an
// expiry (past it, it is refused exactly as an unknown access key is).
type Credential struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	Name            string `json:"name"`
	CreatedAt       time.Time
}

// CredentialInfo describes a credential without its secret, as credential
// list prints it. Times are to the second, in UTC.
type CredentialInfo struct {
	AccessKeyID  string `json:"access_key_id"`
	Name         string `json:"name"`
	PrincipalARN string `json:"principal_arn"`
	// Admin: the credential may manage credentials (the admin API).
	Admin bool `json:"admin"`
	// IdentityPolicy is the credential's identity policy, "" for none.
	IdentityPolicy string    `json:"identity_policy,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	// ExpiresAt is when the credential stops authenticating; nil: never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Expired: ExpiresAt has passed (when the list was made). An expired
	// credential authenticates nothing and is listed until deleted.
	Expired bool `json:"expired,omitempty"`
}

// adminName is the name of the account's root credential, the one init
// makes: its principal is arn:aws:iam::ACCOUNT:root, and it always has the
// admin permission.
const adminName = store.RootCredentialName

var credentialNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

// maxExpiresIn bounds CreateCredentialRequest.ExpiresIn: a hundred years is
// "never" in all but name, and keeps the arithmetic far from overflow.
const maxExpiresIn = 100 * 365 * 24 * time.Hour

func newCredential(name string, now time.Time) *Credential {
	var id [10]byte
	var secret [30]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	return &Credential{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
		Name:            name,
		CreatedAt:       now.UTC().Truncate(time.Second),
	}
}

// isAdmin reports whether the record has the admin permission: the root
// credential always has (records made before the permission existed carry
// no flag), another only if it was made with it.
func isAdmin(r *store.Credential) bool { return r.Admin || r.Name == adminName }

// A credential's secret is sealed bound to its access key id and to its
// scope (store.SealCredential), so that a scope changed in the database
// does not open. Its name, which is its principal and makes the root
// credential an admin, is bound by the record's MAC (store.Authenticated),
// not by the sealing of an unscoped secret (its access key id alone): the
// name kms trusts is the record's, never the PostgreSQL column beside it
// (postgres's doc, "Threat model").

func principalARN(acct Account, name string) string {
	if name == adminName {
		return "arn:aws:iam::" + acct.AccountID + ":root"
	}
	return "arn:aws:iam::" + acct.AccountID + ":user/" + name
}

// identityPolicy is a credential's identity policy as authorize applies it:
// parsed, or why a stored one no longer parses (then it allows nothing).
type identityPolicy struct {
	p   *policy.IdentityPolicy
	err error
}

type cachedCredential struct {
	secret    []byte
	principal *Principal
	rec       store.Credential // without its sealed secret
}

func (c *cachedCredential) expired(now time.Time) bool {
	return c.rec.ExpiresAt != nil && !now.Before(*c.rec.ExpiresAt)
}

func (c *cachedCredential) info(acct Account, now time.Time) CredentialInfo {
	info := CredentialInfo{
		AccessKeyID: c.rec.AccessKeyID, Name: c.rec.Name, PrincipalARN: principalARN(acct, c.rec.Name),
		Admin: isAdmin(&c.rec), IdentityPolicy: c.rec.IdentityPolicy, CreatedAt: c.rec.CreatedAt.UTC().Truncate(time.Second),
	}
	if c.rec.ExpiresAt != nil {
		t := c.rec.ExpiresAt.UTC().Truncate(time.Second)
		info.ExpiresAt, info.Expired = &t, c.expired(now)
	}
	return info
}

// cache makes the cached form of rec, whose secret is secret (which it
// keeps).
func cache(acct Account, rec *store.Credential, secret []byte) *cachedCredential {
	r := *rec
	r.Sealed = nil
	p := &Principal{AccessKeyID: r.AccessKeyID, Name: r.Name, ARN: principalARN(acct, r.Name)}
	if r.IdentityPolicy != "" {
		ip, err := policy.ParseIdentity(r.IdentityPolicy)
		p.identity = &identityPolicy{p: ip, err: err}
	}
	return &cachedCredential{secret: secret, principal: p, rec: r}
}

// Credentials are the store's access keys as the dialects see them: a
// lookup of the secret that signs a request, for the signature check, and
// of the principal it authenticates. Managing them is Admin's, and the
// admin API's (Service.CreateCredential, …), which change this cache as
// they commit: a deleted credential authenticates nothing from then on.
//
// The opened secrets are cached here; the cache's slices are never handed
// out (Lookup copies), so that deleting a credential may zero its secret
// while a request signed with it is still being checked.
//
// Locking: change serialises the changes (create, delete, rotate), which
// check the cache, commit to the store and only then take mu to change the
// map; so a lookup waits for no store commit, only for the map's change.
//
// Over a shared store the follower (follow.go) keeps the map current with
// what other nodes change: told drops a credential the moment its change
// is told, and reloadOne or reloadAll read it again. gen counts the
// changes to the map other than those reads, so that a read that raced
// with a change is not kept (it is read again).
type Credentials struct {
	change sync.Mutex
	mu     sync.RWMutex
	m      map[string]*cachedCredential
	gen    uint64 // under mu
	now    func() time.Time
}

// told drops the credential ch names unless the map holds it at the
// Version told or later (this node's own change), and reports whether it
// is to be read again (it was not deleted).
func (c *Credentials) told(ch store.Change) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	cc, ok := c.m[ch.ID]
	if ok && ch.Version != 0 && cc.rec.Version >= ch.Version {
		return false
	}
	if ok {
		delete(c.m, ch.ID)
		clear(cc.secret) // the cache's own copy: lookups got theirs
	}
	return ch.Version != 0
}

// set puts cc in the map, or removes id (cc nil), as a change this process
// committed makes it.
func (c *Credentials) set(id string, cc *cachedCredential) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if old := c.m[id]; old != nil && old != cc {
		clear(old.secret)
	}
	if cc == nil {
		delete(c.m, id)
	} else {
		c.m[id] = cc
	}
}

// reloadOne reads credential id from st again and caches it, unless the
// map changed while it read (then it reads again).
func (c *Credentials) reloadOne(ctx context.Context, st store.Store, sl *sealer.Sealer, acct Account, id string) error {
	for {
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		var rec *store.Credential
		err := st.View(ctx, func(r store.Reader) error {
			var err error
			rec, err = r.Credential(id)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if errors.Is(err, store.ErrIntegrity) {
			// Changed outside attestkms (the store logged it): whatever
			// was cached of it goes, and it authenticates nothing.
			c.set(id, nil)
			return nil
		}
		if err != nil {
			return err
		}
		secret, err := store.OpenCredential(sl, rec)
		if err != nil {
			return fmt.Errorf("credential %s: %w", id, err)
		}
		c.mu.Lock()
		if c.gen == gen {
			if old := c.m[id]; old != nil {
				clear(old.secret)
			}
			c.m[id] = cache(acct, rec, secret)
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		clear(secret)
	}
}

// reloadAll reads every credential of st again and replaces the map with
// them, unless it changed while they were read (then it reads again);
// also, in the same read transaction, fn.
func (c *Credentials) reloadAll(ctx context.Context, st store.Store, sl *sealer.Sealer, acct Account, fn func(store.Reader) error) error {
	for {
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		m := map[string]*cachedCredential{}
		zero := func() {
			for _, cc := range m {
				clear(cc.secret)
			}
		}
		err := st.View(ctx, func(r store.Reader) error {
			if err := fn(r); err != nil {
				return err
			}
			// A credential whose record fails its integrity check is left
			// out (refused as an unknown access key; the store logged it),
			// not the others with it.
			recs, _, err := store.AuthenticCredentials(r)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				secret, err := store.OpenCredential(sl, rec)
				if errors.Is(err, sealer.ErrUnavailable) {
					return err
				}
				if err != nil {
					return fmt.Errorf("%w: credential %s does not open under the root key that opens the store: %v", ErrStoreDamaged, rec.AccessKeyID, err)
				}
				m[rec.AccessKeyID] = cache(acct, rec, secret)
			}
			return nil
		})
		if err != nil {
			zero()
			return err
		}
		c.mu.Lock()
		if c.gen == gen {
			old := c.m
			c.m = m
			c.mu.Unlock()
			for _, cc := range old {
				clear(cc.secret)
			}
			return nil
		}
		c.mu.Unlock()
		zero()
	}
}

// loadCredentials reads and opens every credential of st.
func loadCredentials(ctx context.Context, st store.Store, sl *sealer.Sealer, acct Account, now func() time.Time) (*Credentials, error) {
	cc := &Credentials{m: map[string]*cachedCredential{}, now: now}
	err := st.View(ctx, func(r store.Reader) error {
		// Unlike reloadAll: a credential that fails its integrity check
		// fails the Open (a store damaged, or changed outside attestkms,
		// is refused, as one whose secret does not open), before the node
		// serves anything; a running node leaves it out instead.
		recs, err := r.Credentials()
		if err != nil {
			return err
		}
		for _, rec := range recs {
			secret, err := store.OpenCredential(sl, rec)
			if errors.Is(err, sealer.ErrUnavailable) {
				return err
			}
			if err != nil {
				return fmt.Errorf("%w: credential %s does not open under the root key that opens the store: %v", ErrStoreDamaged, rec.AccessKeyID, err)
			}
			cc.m[rec.AccessKeyID] = cache(acct, rec, secret)
		}
		return nil
	})
	return cc, err
}

// Credentials returns the store's credentials, for the dialects'
// authentication.
func (s *Service) Credentials() *Credentials { return s.creds }

// Lookup returns the secret access key of accessKeyID and the principal it
// authenticates, or ok=false if there is no such key or it has expired (the
// same answer: an expired credential is refused as an unknown one). The
// secret is a copy: the caller owns it and zeroes it once the signature is
// checked.
func (c *Credentials) Lookup(accessKeyID string) (secret []byte, p *Principal, ok bool) {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	cc := c.live(accessKeyID, now)
	if cc == nil {
		return nil, nil, false
	}
	pc := *cc.principal
	return bytes.Clone(cc.secret), &pc, true
}

// Known reports whether accessKeyID names a credential that has not
// expired (one Lookup finds), copying no secret.
func (c *Credentials) Known(accessKeyID string) bool {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live(accessKeyID, now) != nil
}

// isAdmin reports whether accessKeyID is, now, a credential with the admin
// permission that has not expired.
func (c *Credentials) isAdmin(accessKeyID string) bool {
	now := c.now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	cc := c.live(accessKeyID, now)
	return cc != nil && isAdmin(&cc.rec)
}

// live is the cached credential accessKeyID names if it has not expired at
// now, else nil: an expired credential is answered as an unknown one, by
// Lookup, Known and isAdmin alike. c.mu is held (what live returns is read
// only while it is: a deletion clears the cached secret under it).
func (c *Credentials) live(accessKeyID string, now time.Time) *cachedCredential {
	cc, ok := c.m[accessKeyID]
	if !ok || cc.expired(now) {
		return nil
	}
	return cc
}

// credentialNotFound is the answer for an access key id there is none of.
func credentialNotFound(accessKeyID string) error {
	// The id is the client's: clipped.
	return &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("credential %.128s does not exist", accessKeyID), Cause: ErrCredentialNotFound}
}

// createCredential is CreateCredential, for the admin API and Admin alike:
// the new credential is committed with c's audit record.
func (s *Service) createCredential(ctx context.Context, c *Call, req *CreateCredentialRequest) (*CreateCredentialResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	name := req.Name
	switch {
	case !credentialNameRE.MatchString(name):
		return nil, errorf(ErrValidation, "credential name must be 1-64 characters of A-Z a-z 0-9 +=,.@_-")
	case name == adminName && !req.Admin:
		return nil, errorf(ErrValidation, "the name %s is the account's root credential's, which has the admin permission: make it an admin, or choose another name", adminName)
	case name == adminName && req.IdentityPolicy != "":
		return nil, errorf(ErrValidation, "the account's root credential (named %s) cannot carry an identity policy: a key policy naming the account names it itself; choose another name", adminName)
	case req.Admin && req.IdentityPolicy != "":
		// An admin makes, rotates and deletes credentials: it can make
		// itself an unscoped one, or rotate any other and take its
		// principal. An identity policy on it would limit nothing it
		// cannot step around (review: a scoped "ops" admin minted an
		// unscoped credential that decrypted what its own policy denied).
		return nil, errorf(ErrValidation, "an admin credential cannot carry an identity policy: it can make or rotate any credential, so the policy would limit nothing; give the policy to a credential without the admin permission")
	case req.ExpiresIn < 0, req.ExpiresIn > 0 && req.ExpiresIn < time.Second, req.ExpiresIn > maxExpiresIn:
		return nil, errorf(ErrValidation, "ExpiresIn must be at least a second and at most %d hours (zero: the credential does not expire)", int64(maxExpiresIn/time.Hour))
	case len(req.IdentityPolicy) > maxPolicy:
		return nil, errorf(ErrLimitExceeded, "the identity policy is larger than %d bytes", maxPolicy)
	}
	if req.IdentityPolicy != "" {
		if _, err := policy.ParseIdentity(req.IdentityPolicy); err != nil {
			return nil, &Error{Kind: ErrMalformedPolicy, Msg: "identity policy: " + err.Error()}
		}
	}
	cred := newCredential(name, s.now())
	rec := &store.Credential{AccessKeyID: cred.AccessKeyID, Name: name, CreatedAt: cred.CreatedAt, Admin: req.Admin, IdentityPolicy: req.IdentityPolicy}
	if req.ExpiresIn > 0 {
		t := cred.CreatedAt.Add(req.ExpiresIn).Truncate(time.Second)
		rec.ExpiresAt = &t
	}

	cs := s.creds
	cs.change.Lock()
	defer cs.change.Unlock()
	cs.mu.RLock()
	exists := false
	for _, cc := range cs.m {
		exists = exists || cc.rec.Name == name
	}
	cs.mu.RUnlock()
	if exists {
		return nil, errorf(ErrAlreadyExists, "a credential named %q exists", name)
	}
	c.noteCredential(rec.AccessKeyID)
	err := s.change(ctx, c, func(tx store.Txn) error {
		// Sealed inside the change: under the store's root key when it
		// commits (rootrotate.go).
		if err := store.SealCredential(s.sealer, rec, []byte(cred.SecretAccessKey)); err != nil {
			return internal(err)
		}
		err := tx.CreateCredential(rec)
		if errors.Is(err, store.ErrExists) {
			return errorf(ErrAlreadyExists, "a credential named %q exists", name)
		}
		return err
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	cc := cache(s.account, rec, []byte(cred.SecretAccessKey))
	cs.set(rec.AccessKeyID, cc)
	return &CreateCredentialResponse{CredentialInfo: cc.info(s.account, s.now()), SecretAccessKey: []byte(cred.SecretAccessKey)}, nil
}

// listCredentials is ListCredentials: every credential, by name.
func (s *Service) listCredentials() []CredentialInfo {
	now := s.now()
	c := s.creds
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]CredentialInfo, 0, len(c.m))
	for _, cc := range c.m {
		out = append(out, cc.info(s.account, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// deleteCredential is DeleteCredential. It refuses to remove the last
// admin credential that has not expired, which would leave nobody able to
// manage credentials on the running server. The deletion is committed with
// c's audit record.
func (s *Service) deleteCredential(ctx context.Context, c *Call, accessKeyID string) (*CredentialInfo, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	cs := s.creds
	cs.change.Lock()
	defer cs.change.Unlock()
	cs.mu.RLock()
	cc, ok := cs.m[accessKeyID]
	cs.mu.RUnlock()
	c.noteCredential(accessKeyID)
	// The record is read in the transaction, not taken from the cache: on
	// nodes sharing a store, one that has not yet read a credential
	// another node just made (within the follow bound) deletes it all the
	// same, and judges it as committed; and the last-admin rule is judged
	// there only (a lagging cache could count one admin too few).
	//
	// Locks are taken in access key order only (lastAdminCheck locks every
	// admin, the target among them): two nodes deleting two admins at once
	// then serialise instead of deadlocking, which locking the target
	// first would make them do.
	var rec store.Credential
	tampered := false
	err := s.change(ctx, c, func(tx store.Txn) error {
		// Not locked; a record that fails its integrity check is left
		// out (logged), so that one a database writer changed does not
		// stop every other credential's deletion.
		all, _, err := store.AuthenticCredentials(tx)
		if err != nil {
			return err
		}
		var found *store.Credential
		for _, r := range all {
			if r.AccessKeyID == accessKeyID {
				found = r
			}
		}
		if found == nil {
			// A record a database writer changed is not among them, and
			// deleting it is the remedy short of a restore: it goes
			// unread (nothing of it is trusted, nor answered), and the
			// last-admin rule, which counts only records that verify,
			// has nothing to say.
			if _, err := tx.Credential(accessKeyID); !errors.Is(err, store.ErrIntegrity) {
				return credentialNotFound(accessKeyID)
			}
			tampered = true
			rec = store.Credential{AccessKeyID: accessKeyID}
			c.noteMessage("deleted a credential record that failed its integrity check (changed outside attestkms): none of its fields was read")
			return tx.DeleteCredential(accessKeyID)
		}
		if isAdmin(found) && (found.ExpiresAt == nil || now.Before(*found.ExpiresAt)) {
			if err := lastAdminCheck(tx, accessKeyID, now); err != nil {
				return err
			}
		}
		r, err := tx.Credential(accessKeyID) // locked: as committed now
		if errors.Is(err, store.ErrNotFound) {
			return credentialNotFound(accessKeyID)
		}
		if err != nil {
			return err
		}
		rec = *r
		rec.Sealed = nil
		err = tx.DeleteCredential(accessKeyID)
		if errors.Is(err, store.ErrNotFound) {
			return credentialNotFound(accessKeyID)
		}
		return err
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	info := (&cachedCredential{rec: rec}).info(s.account, now)
	if tampered {
		info = CredentialInfo{AccessKeyID: accessKeyID}
	}
	cs.set(accessKeyID, nil)
	if ok {
		clear(cc.secret) // the cache's own copy: lookups got theirs
	}
	return &info, nil
}

// lastAdminCheck refuses, in tx, to delete accessKeyID if no other admin
// credential that has not expired would be left. It locks every admin
// credential's record (Reader.Credential in a Txn), in access key order, so
// that two transactions deleting admins — on nodes sharing the store —
// serialise, and the second counts what the first left.
func lastAdminCheck(tx store.Txn, accessKeyID string, now time.Time) error {
	// Only records that verify count as admins (one a database writer
	// changed is left out: it can only make this refuse more).
	recs, _, err := store.AuthenticCredentials(tx)
	if err != nil {
		return err
	}
	others := 0
	for _, r := range recs { // in access key order
		if !isAdmin(r) {
			continue
		}
		r, err := tx.Credential(r.AccessKeyID) // locked, as committed now
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if r.AccessKeyID != accessKeyID && isAdmin(r) && (r.ExpiresAt == nil || now.Before(*r.ExpiresAt)) {
			others++
		}
	}
	if others == 0 {
		return errorf(ErrValidation, "refusing to delete the last admin credential: create another with the admin permission first")
	}
	return nil
}

// rotateCredential is RotateCredential: a new access key pair with the
// credential's name, permission, identity policy and expiry replaces it,
// in one transaction, committed with c's audit record.
func (s *Service) rotateCredential(ctx context.Context, c *Call, accessKeyID string) (*RotateCredentialResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	cs := s.creds
	cs.change.Lock()
	defer cs.change.Unlock()
	cs.mu.RLock()
	old, ok := cs.m[accessKeyID]
	cs.mu.RUnlock()
	if ok && old.expired(now) {
		return nil, errorf(ErrValidation, "credential %s has expired: delete it and create another", accessKeyID)
	}
	cred := newCredential("", now)
	c.noteCredential(cred.AccessKeyID)
	c.noteMessage("replaces " + accessKeyID)
	// The old record is read in the transaction, not taken from the
	// cache: on nodes sharing a store, one that has not yet read a
	// credential another node just made (within the follow bound)
	// rotates it all the same, from the record as committed.
	var rec store.Credential
	err := s.change(ctx, c, func(tx store.Txn) error {
		r, err := tx.Credential(accessKeyID)
		if errors.Is(err, store.ErrNotFound) {
			return credentialNotFound(accessKeyID)
		}
		if err != nil {
			return err
		}
		if r.ExpiresAt != nil && !now.Before(*r.ExpiresAt) {
			return errorf(ErrValidation, "credential %s has expired: delete it and create another", accessKeyID)
		}
		rec = *r
		rec.AccessKeyID, rec.CreatedAt = cred.AccessKeyID, cred.CreatedAt
		if err := store.SealCredential(s.sealer, &rec, []byte(cred.SecretAccessKey)); err != nil {
			return internal(err)
		}
		if err := tx.DeleteCredential(accessKeyID); errors.Is(err, store.ErrNotFound) {
			return credentialNotFound(accessKeyID)
		} else if err != nil {
			return err
		}
		return tx.CreateCredential(&rec)
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	cc := cache(s.account, &rec, []byte(cred.SecretAccessKey))
	cs.set(accessKeyID, nil)
	cs.set(rec.AccessKeyID, cc)
	if ok {
		clear(old.secret) // the cache's own copy: lookups got theirs
	}
	return &RotateCredentialResponse{
		CreateCredentialResponse: CreateCredentialResponse{CredentialInfo: cc.info(s.account, now), SecretAccessKey: []byte(cred.SecretAccessKey)},
		Replaced:                 accessKeyID,
	}, nil
}

// CreateCredential makes a new access key pair as req asks, while the
// server is stopped (cmd/attestkms credential create --data-dir). The
// secret is returned here once and cannot be read back later. Like every
// change of the offline commands, it is audited as the request "offline"
// (no principal: whoever can run them holds the store).
func (a *Admin) CreateCredential(ctx context.Context, req *CreateCredentialRequest) (*CreateCredentialResponse, error) {
	return run(a.s, ctx, offlineCall(), "CreateCredential", opChange, req, a.s.createCredential)
}

// offlineCall is the Call of an offline command's change.
func offlineCall() *Call { return &Call{RequestID: "offline", Dialect: "admin"} }

// ListCredentials lists the credentials, without secrets, by name.
func (a *Admin) ListCredentials() []CredentialInfo { return a.s.listCredentials() }

// DeleteCredential removes an access key. It refuses to remove the last
// admin credential.
func (a *Admin) DeleteCredential(ctx context.Context, accessKeyID string) error {
	_, err := run(a.s, ctx, offlineCall(), "DeleteCredential", opChange, &DeleteCredentialRequest{AccessKeyID: accessKeyID},
		func(ctx context.Context, c *Call, req *DeleteCredentialRequest) (*CredentialInfo, error) {
			return a.s.deleteCredential(ctx, c, req.AccessKeyID)
		})
	return err
}

// RotateCredential replaces an access key pair by a new one with the same
// name, permission, identity policy and expiry; the old access key id is
// gone at once.
func (a *Admin) RotateCredential(ctx context.Context, accessKeyID string) (*RotateCredentialResponse, error) {
	return run(a.s, ctx, offlineCall(), "RotateCredential", opChange, &RotateCredentialRequest{AccessKeyID: accessKeyID},
		func(ctx context.Context, c *Call, req *RotateCredentialRequest) (*RotateCredentialResponse, error) {
			return a.s.rotateCredential(ctx, c, req.AccessKeyID)
		})
}

// requireAdmin refuses a call whose credential does not have the admin
// permission now (it has none, or it was deleted or has expired since the
// request was authenticated).
func (s *Service) requireAdmin(c *Call, op string) error {
	if c == nil || c.Principal == nil {
		return errorf(ErrAccessDenied, "an unauthenticated caller is not authorized to perform attestkms:%s", op)
	}
	if !s.creds.isAdmin(c.Principal.AccessKeyID) {
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: attestkms:%s: only a credential with the admin permission manages credentials", c.Principal.ARN, op)
	}
	return nil
}

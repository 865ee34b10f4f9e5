package kms

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// The service key signs every answer to a request with a Recipient
// (package answer, docs/answers.md), so that an enclave that pins it
// refuses an answer its host forged or replayed.
//
// It is Ed25519 (deterministic signing, no random-number failure mode at
// signing; fast; a 32-byte key an enclave pins). A FIPS deployment would
// want ECDSA P-384: not offered. It is not derived from the root key: a
// root-key rotation would then change the key every enclave pinned. It is
// generated at Init (or by the first Open of a store made before answers
// were signed) and kept in the store's meta, the whole set sealed under the
// root key (store.SealServiceKeys), like every secret: a root-key rotation
// reseals it, a backup carries it.

// AnswerSignature is an answer's signature by the service key (package
// answer): the dialects carry it in their extension member.
type AnswerSignature = answer.Signature

// ServiceKey is one of the service's answer-signing keys, public part.
type ServiceKey struct {
	ID        string // answer.Fingerprint of PublicKey: the KeyId of its signatures
	CreatedAt time.Time
	// RetiredAt, if set, is when the key's grace ends (RotateServiceKey):
	// until then it is published and still signs, the newer key published
	// beside it so that enclave images can pin both; from then on it is
	// neither.
	RetiredAt *time.Time
	PublicKey ed25519.PublicKey
}

// serviceKeyRecord is one key of the sealed set: the set's plaintext is the
// JSON array of them, sealed whole (store.SealServiceKeys). Its names are
// the stored format.
type serviceKeyRecord struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created"`
	RetiredAt  *time.Time `json:"retired_at,omitempty"`
	PublicKey  []byte     `json:"public_key"`  // 32 bytes
	PrivateKey []byte     `json:"private_key"` // the 32-byte Ed25519 seed
	// Gen orders sets: the first key's is 1, and a rotation's new key has
	// one more than the newest key before it. 0 in sets made before it
	// existed (extends then compares the keys themselves).
	Gen uint64 `json:"gen,omitempty"`
}

// serviceKeys is the open set: keys oldest first, and their private keys
// (privs[i] is keys[i]'s).
type serviceKeys struct {
	keys  []ServiceKey
	privs []ed25519.PrivateKey
	// sealed is the stored value the set was opened from: a node of a
	// shared store compares it with what the store's meta holds now
	// (followServiceKeys).
	sealed []byte
	// gen is the newest key's Gen: the set's generation.
	gen uint64
}

// signer is the key that signs at now: the oldest whose grace has not
// ended (a rotated key signs until its retirement, so that enclaves that
// pin only it keep working through the grace), else the newest.
func (set *serviceKeys) signer(now time.Time) ed25519.PrivateKey {
	for i, k := range set.keys {
		if k.RetiredAt == nil || now.Before(*k.RetiredAt) {
			return set.privs[i]
		}
	}
	return set.privs[len(set.privs)-1]
}

func (set *serviceKeys) zero() {
	for _, p := range set.privs {
		clear(p)
	}
}

// newServiceKeyRecord generates a key, of generation 1 (a rotation sets its
// own).
func newServiceKeyRecord(now time.Time) serviceKeyRecord {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return serviceKeyRecord{ID: answer.Fingerprint(pub), CreatedAt: now.UTC(), PublicKey: pub, PrivateKey: priv.Seed(), Gen: 1}
}

// sealServiceKeys encodes and seals recs for Meta.ServiceKeys.
func sealServiceKeys(sl *sealer.Sealer, recs []serviceKeyRecord) ([]byte, error) {
	b, err := json.Marshal(recs)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return store.SealServiceKeys(sl, b)
}

// openServiceKeyRecords opens Meta.ServiceKeys: ErrStoreDamaged if it does
// not open or decode, or holds no key.
func openServiceKeyRecords(sl *sealer.Sealer, sealed []byte) ([]serviceKeyRecord, error) {
	pt, err := store.OpenServiceKeys(sl, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: the service keys do not open under the root key: %v", ErrStoreDamaged, err)
	}
	defer clear(pt)
	var recs []serviceKeyRecord
	if err := json.Unmarshal(pt, &recs); err != nil {
		return nil, fmt.Errorf("%w: the service keys do not decode: %v", ErrStoreDamaged, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: the service key set is empty", ErrStoreDamaged)
	}
	for _, r := range recs {
		if len(r.PrivateKey) != ed25519.SeedSize || len(r.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: service key %s is not an Ed25519 key", ErrStoreDamaged, r.ID)
		}
		priv := ed25519.NewKeyFromSeed(r.PrivateKey)
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(r.PublicKey)) || r.ID != answer.Fingerprint(r.PublicKey) {
			return nil, fmt.Errorf("%w: service key %s: its private key, public key and id do not match", ErrStoreDamaged, r.ID)
		}
	}
	return recs, nil
}

// openServiceKeys opens the sealed set into what signs: the newest key.
func openServiceKeys(sl *sealer.Sealer, sealed []byte) (*serviceKeys, error) {
	recs, err := openServiceKeyRecords(sl, sealed)
	if err != nil {
		return nil, err
	}
	set := &serviceKeys{sealed: bytes.Clone(sealed), gen: recs[len(recs)-1].Gen}
	for _, r := range recs {
		set.keys = append(set.keys, ServiceKey{ID: r.ID, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt, PublicKey: ed25519.PublicKey(r.PublicKey)})
		set.privs = append(set.privs, ed25519.NewKeyFromSeed(r.PrivateKey))
		clear(r.PrivateKey)
	}
	return set, nil
}

// loadServiceKeys opens the store's service keys, generating the first one
// (a change, with its audit record) in a store made before answers were
// signed. Called by newService once the audit log is open.
//
// Nodes of a shared store may first-open such a store together: the change
// reads the meta locked (store.Reader: SELECT … FOR UPDATE), so they take
// turns, and only the first finds it empty and writes a key; the others
// find that key. Every node then opens what is stored, never what it made.
func (s *Service) loadServiceKeys(ctx context.Context) error {
	var sealed []byte
	err := s.view(ctx, func(r store.Reader) error {
		m, err := r.Meta()
		if err == nil {
			sealed = m.ServiceKeys
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(sealed) == 0 {
		c := systemCall("open", "CreateServiceKey")
		err = s.change(ctx, c, func(tx store.Txn) error {
			m, err := tx.Meta()
			if err != nil {
				return err
			}
			if len(m.ServiceKeys) > 0 {
				// Another node made it first (the meta row is
				// locked by this read: it committed before).
				c.noteMessage("the service key was made by another node")
				return nil
			}
			rec := newServiceKeyRecord(s.now())
			if m.ServiceKeys, err = sealServiceKeys(s.sealer, []serviceKeyRecord{rec}); err != nil {
				return internal(err)
			}
			clear(rec.PrivateKey)
			c.noteMessage("made the service's answer-signing key " + rec.ID + " (a store made before answers were signed)")
			return tx.PutMeta(m)
		})
		if err != nil {
			return err
		}
		// What is stored now, whoever wrote it: the set every node
		// opens and signs with.
		err = s.view(ctx, func(r store.Reader) error {
			m, err := r.Meta()
			if err == nil {
				sealed = m.ServiceKeys
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	set, err := openServiceKeys(s.sealer, sealed)
	if err != nil {
		return err
	}
	if seen, err := readServiceKeyGen(s.opts.DataDir); err != nil {
		return err
	} else if set.gen < seen {
		set.zero()
		return fmt.Errorf("%w: the store's answer-signing keys are of generation %d, and this data directory has installed generation %d (%s): a database writer put back an older meta, which would have a revoked or retired key sign again; nothing was written. Restore the store from a backup into a new data directory (this one's %s refuses any older set), then revoke the key again and rotate the root key (every older sealed set then stops opening; docs/answers.md)", ErrStoreDamaged, set.gen, seen, serviceKeyGenMarker, serviceKeyGenMarker)
	}
	s.installServiceKeys(set)
	return nil
}

// serviceKeyGenMarker is the file, in a data directory, that holds the
// highest generation of the service key set this directory's node has
// installed. Like records-authenticated (protect.go) it lives outside the
// database: the meta's MAC proves a set was once the store's, not that it
// still is, and a database writer who kept the meta from before a
// revocation could put it back for the next Open to install — the revoked
// key signing again. Open refuses a stored set older than the file says
// (a running node refuses it by its generation already, extends). A new
// data directory has no file: docs/answers.md says to rotate the root key
// after a revocation, which makes every older sealed set unopenable.
const serviceKeyGenMarker = "service-keys-generation"

// readServiceKeyGen is dir's serviceKeyGenMarker, 0 if it has none.
func readServiceKeyGen(dir string) (uint64, error) {
	if dir == "" {
		return 0, nil
	}
	p := filepath.Join(dir, serviceKeyGenMarker)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32)) // a decimal uint64 and a newline; more is not ours
	if err != nil {
		return 0, err
	}
	gen, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s does not hold a generation: %v", ErrStoreDamaged, p, err)
	}
	return gen, nil
}

// noteServiceKeyGen records in the data directory that a set of
// generation gen is installed, if that is higher than the file says
// (failures are logged: the file hardens later Opens, it decides nothing
// now).
func (s *Service) noteServiceKeyGen(gen uint64) {
	if s.opts.DataDir == "" || gen == 0 {
		return
	}
	s.svcGenMu.Lock()
	defer s.svcGenMu.Unlock()
	seen, err := readServiceKeyGen(s.opts.DataDir)
	if err == nil && seen >= gen {
		return
	}
	p := filepath.Join(s.opts.DataDir, serviceKeyGenMarker)
	if err := putFileSync(p, []byte(strconv.FormatUint(gen, 10)+"\n"), 0o600, os.Rename); err != nil {
		s.log.Error("recording the installed service key generation", "file", p, "err", err)
	}
}

// installServiceKeys makes set the one that publishes and signs, unless the
// set installed already is newer: a rotation keeps the newest key (its
// grace only begins) and adds one, so of two sets read at different times
// the newer is the one that holds the other's newest key and a key the
// other lacks. Every path that installs goes through here — the node's own
// rotation after its commit, the follower's read of another node's, Open —
// so no order of their arrival puts an older set back (a node that did
// would keep signing, after the grace, with a key the store retired). It
// reports whether set was installed.
func (s *Service) installServiceKeys(set *serviceKeys) bool {
	for {
		cur := s.svcKeys.Load()
		if cur != nil && !set.extends(cur) {
			if set.gen != 0 && set.gen == cur.gen && len(set.keys) > 0 && len(cur.keys) > 0 &&
				set.keys[len(set.keys)-1].ID != cur.keys[len(cur.keys)-1].ID {
				// Two sets of one generation: rotations take turns on
				// the locked meta, so one of them came from an older
				// meta put back, or from an attestkms that drops
				// generations. The one installed keeps signing.
				s.log.Error("the store holds another service key set of the generation installed: keeping the installed one (an older meta put back, or a rotation by an older attestkms?)",
					"generation", set.gen, "installed_newest", cur.keys[len(cur.keys)-1].ID, "stored_newest", set.keys[len(set.keys)-1].ID)
			}
			return false
		}
		if s.svcKeys.CompareAndSwap(cur, set) {
			s.noteServiceKeyGen(set.gen)
			return true
		}
	}
}

// extends reports whether set is newer than old: of a higher generation,
// or, between sets made before generations (both 0), holding old's newest
// key and a newest key of its own that old lacks. Generations order a
// revocation too (it keeps none of the keys before it), and a node that
// missed a rotation (it reads only the store's newest set) still moves on
// to the set after it.
func (set *serviceKeys) extends(old *serviceKeys) bool {
	if len(set.keys) == 0 || len(old.keys) == 0 {
		return len(set.keys) > 0
	}
	if set.gen != old.gen || set.gen != 0 {
		return set.gen > old.gen
	}
	has := func(keys []ServiceKey, id string) bool {
		for _, k := range keys {
			if k.ID == id {
				return true
			}
		}
		return false
	}
	return has(set.keys, old.keys[len(old.keys)-1].ID) && !has(old.keys, set.keys[len(set.keys)-1].ID)
}

// ServiceKeys are the service's published answer-signing keys, oldest
// first: every key whose grace has not ended at now. The oldest of them
// signs (serviceKeys.signer), the newest once the others' grace ends.
func (s *Service) ServiceKeys() []ServiceKey {
	set := s.svcKeys.Load()
	if set == nil {
		return nil
	}
	return published(set.keys, s.now())
}

func published(keys []ServiceKey, now time.Time) []ServiceKey {
	var out []ServiceKey
	for i, k := range keys {
		if k.RetiredAt != nil && !now.Before(*k.RetiredAt) && i != len(keys)-1 {
			continue
		}
		out = append(out, k)
	}
	return out
}

// StoredServiceKeys reads the service keys of the store opts names, for
// attestkms service-key: an embedded store is opened read-only
// (ErrStoreInUse while a server holds it: ask its GET /service-key then).
// A store made before answers were signed has none until a server opens it:
// ErrNotInitialised saying so.
func StoredServiceKeys(ctx context.Context, opts Options) ([]ServiceKey, error) {
	var keys []ServiceKey
	err := readStore(ctx, opts, func(r store.Reader, sl *sealer.Sealer) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		if err := checkRoot(sl, m, opts); err != nil {
			return err
		}
		if len(m.ServiceKeys) == 0 {
			return fmt.Errorf("%w: the store has no service key yet (it was made before answers were signed): start the server once to make it", ErrNotInitialised)
		}
		set, err := openServiceKeys(sl, m.ServiceKeys)
		if err != nil {
			return err
		}
		set.zero()
		now := time.Now()
		if opts.Now != nil {
			now = opts.Now()
		}
		keys = published(set.keys, now)
		return nil
	})
	return keys, err
}

// signAnswer signs the answer to c's operation for to's Recipient: nil
// without a Recipient (a plaintext answer, or a public-key wrap, which
// proves nothing about its holder and is not signed). fields are
// answer.Fields(op)'s, in order.
func (s *Service) signAnswer(c *Call, to target, keyARN string, fields ...answer.Field) (*AnswerSignature, error) {
	if to.doc == nil {
		return nil, nil
	}
	set := s.svcKeys.Load()
	if set == nil {
		return nil, internal(errors.New("no service key is loaded"))
	}
	reqSum := c.RequestSHA256
	if reqSum == nil {
		sum := sha256.Sum256(c.Request)
		reqSum = &sum
	}
	sig, err := answer.SignDigests(set.signer(s.now()), sha256.Sum256(to.doc), *reqSum, c.opName(), keyARN, fields)
	if err != nil {
		return nil, internal(fmt.Errorf("signing the answer: %w", err))
	}
	return sig, nil
}

// FormatServiceKeys is keys as `attestkms service-key` and GET /service-key
// give them: for each, a comment line with its fingerprint and dates, then
// its PEM public key (answer.ParsePEM reads the whole text back; the
// fingerprint alone is what `enclavetool --service-key` also takes).
func FormatServiceKeys(keys []ServiceKey) []byte {
	var b []byte
	for _, k := range keys {
		b = fmt.Appendf(b, "# attestkms service key (Ed25519) SHA256:%s created %s", k.ID, k.CreatedAt.UTC().Format(time.RFC3339))
		if k.RetiredAt != nil {
			b = fmt.Appendf(b, " retires %s", k.RetiredAt.UTC().Format(time.RFC3339))
		}
		b = append(b, '\n')
		b = append(b, answer.EncodePEM(k.PublicKey)...)
	}
	return b
}

// RotateServiceKeyRequest asks for a new answer-signing key.
type RotateServiceKeyRequest struct {
	// GraceDays is how long every current key stays published and keeps
	// signing beside the new one, for enclave images to be rebuilt pinning
	// the new key: 1 to 365; 0 means 30.
	GraceDays int32
	// Revoke drops every current key at once instead (GraceDays must be
	// 0): for a key that leaked. The new key signs every answer from now
	// on, so enclave images rebuilt pinning it work at once; images that
	// pin only the revoked keys refuse every answer until they are rebuilt
	// (and still accept a forgery signed with the leaked key: revocation
	// cannot reach into an image, docs/answers.md).
	Revoke bool
}

// RotateServiceKeyResponse is the new key, and the keys it retires with the
// time each grace ends, or those it revoked.
type RotateServiceKeyResponse struct {
	New      ServiceKey
	Retiring []ServiceKey
	Revoked  []ServiceKey
}

const (
	defaultServiceKeyGraceDays = 30
	maxServiceKeyGraceDays     = 365
	// maxServiceKeys bounds the set: each rotation within the others'
	// grace adds one, and every answer's signer is looked up in it.
	maxServiceKeys = 8
)

// RotateServiceKey makes a new answer-signing key (the admin API). The
// current keys keep signing and stay published until their grace ends
// (GraceDays from now), so that enclaves pinning only them keep working;
// the new key is published at once, and signs once their grace ends. Keys
// whose grace has ended are dropped from the set. With Revoke, every
// current key is dropped at once and the new one signs from now. On a shared
// store the other nodes follow: they read the new set when the meta's
// change notification reaches them (followServiceKeys).
func (s *Service) RotateServiceKey(ctx context.Context, c *Call, req *RotateServiceKeyRequest) (*RotateServiceKeyResponse, error) {
	return run(s, ctx, c, "RotateServiceKey", opChange, req, func(ctx context.Context, c *Call, req *RotateServiceKeyRequest) (*RotateServiceKeyResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "RotateServiceKey"); err != nil {
			return nil, err
		}
		return s.rotateServiceKey(ctx, c, req)
	})
}

// RotateServiceKey makes a new answer-signing key while no server holds
// the store (attestkms service-key rotate), audited as the request
// "offline". A shared store's nodes may run meanwhile: they follow it as
// they follow a rotation made on one of them.
func (a *Admin) RotateServiceKey(ctx context.Context, req *RotateServiceKeyRequest) (*RotateServiceKeyResponse, error) {
	return run(a.s, ctx, offlineCall(), "RotateServiceKey", opChange, req, a.s.rotateServiceKey)
}

// serviceKeyGrace is the grace req asks for, or ErrValidation: GraceDays 1
// to 365, 0 meaning 30.
func serviceKeyGrace(req *RotateServiceKeyRequest) (time.Duration, error) {
	days := req.GraceDays
	switch {
	case days == 0:
		days = defaultServiceKeyGraceDays
	case days < 1 || days > maxServiceKeyGraceDays:
		return 0, errorf(ErrValidation, "GraceDays must be between 1 and %d", maxServiceKeyGraceDays)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

func (s *Service) rotateServiceKey(ctx context.Context, c *Call, req *RotateServiceKeyRequest) (*RotateServiceKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	var grace time.Duration
	if req.Revoke {
		if req.GraceDays != 0 {
			return nil, errorf(ErrValidation, "Revoke drops the current keys at once: give no GraceDays")
		}
	} else {
		var err error
		if grace, err = serviceKeyGrace(req); err != nil {
			return nil, err
		}
	}
	// The sealer is read inside the change (changeMu), as a root-key
	// rotation's swap is made (rootrotate.go). On a shared store the meta
	// row is locked by the change's read: rotations on two nodes take
	// turns, the second keeping the first's key in its set.
	now := s.now()
	var resp RotateServiceKeyResponse
	var sealed []byte
	err := s.change(ctx, c, func(tx store.Txn) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		if len(m.ServiceKeys) == 0 {
			return internal(errors.New("the store has no service key"))
		}
		recs, err := openServiceKeyRecords(s.sealer, m.ServiceKeys)
		if err != nil {
			return err
		}
		defer func() {
			for _, r := range recs {
				clear(r.PrivateKey)
			}
		}()
		until := now.Add(grace).UTC()
		var kept []serviceKeyRecord
		var gen uint64
		if cur := s.svcKeys.Load(); cur != nil {
			// Above what this node installed too: a stored set put back
			// from before would otherwise give the new set the
			// generation of one the nodes hold already.
			gen = cur.gen
		}
		for _, r := range recs {
			gen = max(gen, r.Gen)
			if r.RetiredAt != nil && !now.Before(*r.RetiredAt) {
				continue // its grace ended: gone
			}
			if req.Revoke {
				resp.Revoked = append(resp.Revoked, ServiceKey{ID: r.ID, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt, PublicKey: ed25519.PublicKey(r.PublicKey)})
				continue
			}
			if r.RetiredAt == nil || r.RetiredAt.After(until) {
				r.RetiredAt = &until
			}
			kept = append(kept, r)
			resp.Retiring = append(resp.Retiring, ServiceKey{ID: r.ID, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt, PublicKey: ed25519.PublicKey(r.PublicKey)})
		}
		if len(kept) >= maxServiceKeys {
			return errorf(ErrLimitExceeded, "%d service keys are in their grace already: wait until the oldest retires (%s)", len(kept), kept[0].RetiredAt.Format(time.RFC3339))
		}
		rec := newServiceKeyRecord(now)
		rec.Gen = gen + 1
		recs = append(recs, rec) // zeroed with the others
		kept = append(kept, rec)
		resp.New = ServiceKey{ID: rec.ID, CreatedAt: rec.CreatedAt, PublicKey: ed25519.PublicKey(rec.PublicKey)}
		if m.ServiceKeys, err = sealServiceKeys(s.sealer, kept); err != nil {
			return internal(err)
		}
		sealed = m.ServiceKeys
		if req.Revoke {
			ids := make([]string, len(resp.Revoked))
			for i, k := range resp.Revoked {
				ids[i] = k.ID
			}
			c.noteMessage(fmt.Sprintf("made the answer-signing key %s, which signs from now on; revoked %s", rec.ID, strings.Join(ids, ", ")))
		} else {
			c.noteMessage(fmt.Sprintf("made the answer-signing key %s; %d older keys sign until %s", rec.ID, len(resp.Retiring), until.Format(time.RFC3339)))
		}
		return tx.PutMeta(m)
	})
	if err != nil {
		return nil, err
	}
	set, err := openServiceKeys(s.sealer, sealed)
	if err != nil {
		return nil, err
	}
	// The old set is not zeroed: a request may be signing with it. A newer
	// set may be installed already (a later rotation on another node,
	// followed): it holds this one's key.
	s.installServiceKeys(set)
	return &resp, nil
}

// followServiceKeys installs the service key set that a node of a shared
// store read from the store's meta (follow.go, the full read after the
// meta's change notification) if it is not the one loaded: another node,
// or attestkms service-key rotate, rotated it. Signing reads only memory:
// the set is swapped here, never read from the store per request.
//
// before is the set loaded when the read began: the same stored value is
// not opened again. What was read is installed only if it is newer than the
// set installed now (installServiceKeys): a read that began before this
// node's own rotation, or a notification that arrives late, never puts an
// older set back.
func (s *Service) followServiceKeys(before *serviceKeys, sealed []byte) error {
	if len(sealed) == 0 || before != nil && bytes.Equal(before.sealed, sealed) {
		return nil
	}
	set, err := openServiceKeys(s.sealer, sealed)
	if err != nil {
		return err
	}
	if s.installServiceKeys(set) {
		var ids []string
		for _, k := range published(set.keys, s.now()) {
			ids = append(ids, k.ID)
		}
		s.log.Info("the store's service keys changed: publishing and signing with them", "service_keys", ids)
	}
	return nil
}

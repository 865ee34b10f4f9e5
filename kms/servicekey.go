package kms

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
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
	// RetiredAt, if set, is when the key stops being published (a rotated
	// key's grace ends): it no longer signs once a newer key exists.
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
}

// serviceKeys is the open set: keys oldest first, signer the newest's
// private key.
type serviceKeys struct {
	keys   []ServiceKey
	signer ed25519.PrivateKey
}

// newServiceKeyRecord generates a key.
func newServiceKeyRecord(now time.Time) serviceKeyRecord {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return serviceKeyRecord{ID: answer.Fingerprint(pub), CreatedAt: now.UTC(), PublicKey: pub, PrivateKey: priv.Seed()}
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
	set := &serviceKeys{signer: ed25519.NewKeyFromSeed(recs[len(recs)-1].PrivateKey)}
	for _, r := range recs {
		set.keys = append(set.keys, ServiceKey{ID: r.ID, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt, PublicKey: ed25519.PublicKey(r.PublicKey)})
		clear(r.PrivateKey)
	}
	return set, nil
}

// loadServiceKeys opens the store's service keys, generating the first one
// (a change, with its audit record) in a store made before answers were
// signed. Called by newService once the audit log is open.
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
				// Another node made it first: keep theirs.
				sealed = m.ServiceKeys
				c.noteMessage("the service key was made by another node")
				return nil
			}
			rec := newServiceKeyRecord(s.now())
			if m.ServiceKeys, err = sealServiceKeys(s.sealer, []serviceKeyRecord{rec}); err != nil {
				return internal(err)
			}
			clear(rec.PrivateKey)
			sealed = m.ServiceKeys
			c.noteMessage("made the service's answer-signing key " + rec.ID + " (a store made before answers were signed)")
			return tx.PutMeta(m)
		})
		if err != nil {
			return err
		}
	}
	set, err := openServiceKeys(s.sealer, sealed)
	if err != nil {
		return err
	}
	s.svcKeys.Store(set)
	return nil
}

// ServiceKeys are the service's published answer-signing keys, oldest
// first: every key whose grace has not ended at now. The last signs.
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
		clear(set.signer)
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
	sig, err := answer.Sign(set.signer, to.doc, c.opName(), keyARN, fields)
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

package kms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/attestkms/attestkms/kms/internal/p11"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Root-key rotation: every sealed value of the store (every version of
// every key's material, every credential's secret, the root check) opened
// under the store's root key and sealed under another, and every record's
// MAC (protect.go) made anew under the other, in ONE change: the
// store commits under exactly one of the two keys whatever instant a crash
// or a kill comes at (a bbolt transaction, a PostgreSQL transaction), and
// the change's audit record commits with it (Service.change). Then the
// store is compacted (shred.go), so that the old key opens nothing left in
// its files: bbolt's freed pages held every value the rotation replaced. A
// rerun after a crash finds the store under the new key already and only
// compacts (RotateRootKeyOffline).
//
// What the old key still opens: backups made before the rotation (they are
// sealed and MACed under it: keep the old key with them, or destroy both),
// a copy of the database taken before, and, in PostgreSQL, dead row
// versions until VACUUM FULL (docs/shredding.md).
//
// Online (the admin API), on a store one process holds: the change holds
// rootMu for writing, so that no request opens a record read under one key
// with the other, and every seal happens inside a change (changeMu), so
// none seals under the old key after the rotation committed. A shared
// store's nodes each hold the root key: it is rotated offline, every node
// stopped (a node still running refuses every request once it sees the
// store's root check change, follow.go).

// RotateRootKeyRequest names the root key to move the store to.
type RotateRootKeyRequest struct {
	// To is the new root key's spec (rootspec.go). A file that does not
	// exist is made (random, mode 0600); a pkcs11: key that does not
	// exist is generated in its token; an environment variable must be
	// set.
	To string
	// PKCS11PIN is To's token PIN. Never recorded.
	PKCS11PIN string `json:"-"`
}

// RotateRootKeyResponse says what the rotation did.
type RotateRootKeyResponse struct {
	// Keys and Materials are the keys and material versions resealed,
	// Credentials the credential secrets.
	Keys, Materials, Credentials int
	// Made: the new root key was made by this rotation (a new file, a key
	// generated in the token).
	Made bool
	// Already: the store was under To already (a rerun after a crash):
	// only the compaction ran.
	Already bool
	// Compacted: the store was rewritten with its live records alone
	// (false for a store that cannot: PostgreSQL, VACUUM FULL is the
	// operator's, docs/shredding.md).
	Compacted bool
}

// RotateRootKey moves a running store to another root key (the admin API).
func (s *Service) RotateRootKey(ctx context.Context, c *Call, req *RotateRootKeyRequest) (*RotateRootKeyResponse, error) {
	return run(s, ctx, c, "RotateRootKey", opChange, req, func(ctx context.Context, c *Call, req *RotateRootKeyRequest) (*RotateRootKeyResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "RotateRootKey"); err != nil {
			return nil, err
		}
		if s.follow != nil {
			return nil, errorf(ErrUnsupported, "the root key of a shared store is rotated offline, every node stopped: attestkms root-key rotate --store … (each node then starts with the new --root-key)")
		}
		if err := s.checkOnlineTarget(req.To); err != nil {
			return nil, err
		}
		return s.rotateRootKeyTo(ctx, c, req, true)
	})
}

// checkOnlineTarget refuses what a request must not make the server do with
// its own privileges (an admin credential is not the host's root): load a
// PKCS#11 module it was not started with — dlopen of a path the request
// names would run that library's code in the server — or write a new root
// key file at a relative path, or inside the data directory (where a copy
// of the directory would copy it), or read a root key from a file already
// there (rotateRootKeyTo's online: whoever could plant one — any local user,
// where the server runs as root — would know the key every record is then
// sealed under, and a Backup would hand them every key's material; review).
// Offline, the operator runs the command with the host's privileges, and
// these are the operator's choices.
func (s *Service) checkOnlineTarget(spec string) error {
	to, err := parseRootKey(spec)
	if err != nil {
		return errorf(ErrValidation, "To: %v", err)
	}
	switch to.kind {
	case RootKeyPKCS11:
		cur, err := s.opts.rootKeySpec()
		if err != nil || cur.kind != RootKeyPKCS11 || moduleOf(cur.arg) != moduleOf(to.arg) {
			return errorf(ErrValidation, "an online rotation loads no PKCS#11 module the server was not started with: rotate into a token offline (attestkms root-key rotate --data-dir … --to pkcs11:…)")
		}
	case RootKeyFile:
		if !filepath.IsAbs(to.arg) {
			return errorf(ErrValidation, "To: the new root key file must be an absolute path on the server's host")
		}
		tmp := s.opts
		tmp.RootKey, tmp.RootKeyFile = spec, ""
		if RootKeyInDataDir(tmp) {
			return errorf(ErrValidation, "To: the new root key file must not be in the data directory: a copy of the directory would be a copy of every key")
		}
	}
	return nil
}

// moduleOf is the module-path of a pkcs11: URI ("" if it does not parse).
func moduleOf(uri string) string {
	u, err := p11.ParseURI(uri)
	if err != nil {
		return ""
	}
	return u.ModulePath
}

// RotateRootKey moves the store to another root key while the server is
// stopped (attestkms root-key rotate), audited as the request "offline".
func (a *Admin) RotateRootKey(ctx context.Context, req *RotateRootKeyRequest) (*RotateRootKeyResponse, error) {
	return run(a.s, ctx, offlineCall(), "RotateRootKey", opChange, req, a.s.rotateRootKey)
}

func (s *Service) rotateRootKey(ctx context.Context, c *Call, req *RotateRootKeyRequest) (*RotateRootKeyResponse, error) {
	return s.rotateRootKeyTo(ctx, c, req, false)
}

// rotateRootKeyTo is rotateRootKey; online, a file: target must be made by
// the rotation (checkOnlineTarget).
func (s *Service) rotateRootKeyTo(ctx context.Context, c *Call, req *RotateRootKeyRequest, online bool) (*RotateRootKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	to, err := parseRootKey(req.To)
	if err != nil {
		return nil, errorf(ErrValidation, "To: %v", err)
	}
	to.mustMake = online && to.kind == RootKeyFile
	to.pin = req.PKCS11PIN
	if to.pin == "" {
		to.pin = s.opts.PKCS11PIN // the server's own, for an online rotation
	}
	next, made, err := openRootKey(to, true)
	if err != nil {
		if errors.Is(err, sealer.ErrUnavailable) {
			return nil, internal(err)
		}
		return nil, errorf(ErrValidation, "the new root key %s: %v", to, err)
	}
	resp := &RotateRootKeyResponse{Made: made}

	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	prev := s.sealer
	swapped := false
	err = s.change(ctx, c, func(tx store.Txn) error {
		// Every record is MACed anew under next as it is written; a read
		// beside the change (changes run one at a time: none writes
		// meanwhile) accepts a record under either key until the end.
		s.auth.Rotating(prev, next)
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		if store.CheckRoot(next, m) == nil {
			return errorf(ErrValidation, "the store is under that root key already")
		}
		*resp = RotateRootKeyResponse{Made: made}
		var keys []*store.Key
		if err := eachKey(tx, func(k *store.Key) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			for i := range k.Materials {
				if err := store.ResealMaterial(prev, next, k.ID, &k.Materials[i]); err != nil {
					return resealError(fmt.Sprintf("key %s material %d", k.ID, k.Materials[i].Version), err)
				}
				resp.Materials++
			}
			if err := tx.PutKey(k); err != nil {
				return err
			}
			resp.Keys++
		}
		// Aliases hold nothing sealed, but their MACs are under the root
		// key too.
		if _, err := rewriteAliases(tx); err != nil {
			return err
		}
		creds, err := tx.Credentials()
		if err != nil {
			return err
		}
		for _, cr := range creds {
			if err := store.ResealCredential(prev, next, cr); err != nil {
				return resealError("credential "+cr.AccessKeyID, err)
			}
			if err := tx.DeleteCredential(cr.AccessKeyID); err != nil {
				return err
			}
			if err := tx.CreateCredential(cr); err != nil {
				return err
			}
			resp.Credentials++
		}
		// The records digest sums elements under the root key's MAC key:
		// made anew under next, of every record as now MACed, once the
		// records are found to be those the old one sums.
		if err := store.RebuildDigest(tx); err != nil {
			return integrityDamage(err)
		}
		if err := store.ResealServiceKeys(prev, next, m); err != nil {
			return resealError("the service keys", err)
		}
		if m.RootCheck, err = store.SealRootCheck(next); err != nil {
			return internal(err)
		}
		if err := tx.PutMeta(m); err != nil {
			return err
		}
		c.noteMessage(fmt.Sprintf("the store moved to the root key %s: resealed %d material versions of %d keys and %d credentials", to, resp.Materials, resp.Keys, resp.Credentials))
		// Every later change seals under next: changes run one at a time
		// (changeMu), and this one commits under next or not at all.
		s.sealer, swapped = next, true
		return nil
	})
	if err != nil {
		s.auth.SetKey(prev)
		if swapped {
			s.sealer = prev
		}
		next.Close()
		if made && to.kind == RootKeyFile {
			// A file this rotation made and nothing is sealed under:
			// leave no stray root key behind.
			os.Remove(to.arg)
		}
		return nil, err
	}
	s.auth.SetKey(next)
	// What was cached holds records sealed under the old key.
	s.keys.dropAll()
	prev.Close()
	resp.Compacted, err = s.compactNow(ctx, c.RequestID)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// resealError is a value that does not open under the store's own root key
// (a damaged store: the rotation changes nothing), or a device's error.
func resealError(what string, err error) error {
	if errors.Is(err, sealer.ErrUnavailable) {
		return internal(err)
	}
	return fmt.Errorf("%w: %s does not open under the store's root key: %v", ErrStoreDamaged, what, err)
}

// compactNow compacts a store that can, at once, whatever shredPending
// says: after a root-key rotation, what the old key sealed is in the
// freed pages.
func (s *Service) compactNow(ctx context.Context, requestID string) (bool, error) {
	if _, ok := s.auth.Unwrap().(store.Compacter); !ok {
		return false, nil
	}
	s.shredPending.Store(true)
	if err := s.compact(ctx, requestID, "so that nothing sealed under the old root key remains in it"); err != nil {
		return false, err
	}
	return true, nil
}

// RotateRootKeyOffline moves the store opts names (opened under its
// current root key, opts's) to req.To while the server is stopped. Run
// again after a crash, it finds the store under req.To already and
// finishes (the compaction): Already in the response.
func RotateRootKeyOffline(ctx context.Context, opts Options, req *RotateRootKeyRequest) (*RotateRootKeyResponse, error) {
	opts.StoredRegion = true
	s, err := Open(opts)
	if errors.Is(err, ErrRootKeyMismatch) {
		next := opts
		next.RootKey, next.RootKeyFile, next.PKCS11PIN = req.To, "", req.PKCS11PIN
		if _, perr := parseRootKey(req.To); perr != nil {
			return nil, fmt.Errorf("--to: %w", perr)
		}
		s2, err2 := Open(next)
		if err2 != nil {
			return nil, err // under neither key: the first refusal says which it tried
		}
		defer s2.Close()
		compacted, err := s2.compactNow(ctx, "offline")
		if err != nil {
			return nil, err
		}
		return &RotateRootKeyResponse{Already: true, Compacted: compacted}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Admin().RotateRootKey(ctx, req)
}

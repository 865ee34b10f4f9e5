package kms

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// kms keeps its keys, aliases, credentials and meta in a store (package
// store; its doc is the contract): Service.st, opened by Open (open.go).
// Operations read through view and Store.Key/Alias (the key cache,
// keycache.go, in front of the keys) and write only through change
// (auditing.go), which commits a change with its audit record. They never
// see the implementation: bbolt (package store/bolt) or PostgreSQL (package
// store/postgres). The audit change seq's chain is Service.chain: "" for a
// store one process holds, the node's id for a shared one (node.go).

// view runs fn in a read transaction of the store. A done ctx starts none
// (ErrCanceled).
func (s *Service) view(ctx context.Context, fn func(store.Reader) error) error {
	if err := canceled(ctx); err != nil {
		return err
	}
	return s.st.View(ctx, fn)
}

// eachKey calls fn with every key of r, in id order, reading them a page
// at a time.
func eachKey(r store.Reader, fn func(*store.Key) error) error {
	_, err := listPage("", -1, r.Keys, func(k *store.Key) string { return k.ID }, func(k *store.Key) (bool, error) { return true, fn(k) })
	return err
}

// eachAlias calls fn with every alias of r, in name order, reading them a
// page at a time.
func eachAlias(r store.Reader, fn func(*store.Alias) error) error {
	_, err := listPage("", -1, r.Aliases, func(a *store.Alias) string { return a.Name }, func(a *store.Alias) (bool, error) { return true, fn(a) })
	return err
}

// listPage is store.Page, the id it returns as a listing's marker (""
// when there is none).
func listPage[T any](start string, limit int, fetch func(start string, n int) ([]*T, error), id func(*T) string, visit func(*T) (bool, error)) (string, error) {
	next, err := store.Page(start, limit, fetch, id, visit)
	if err != nil || next == "" {
		return "", err
	}
	return encodeMarker(next), nil
}

// A listing's marker is the id or name its next page starts at, in
// unpadded URL-safe base64: opaque to clients.
func encodeMarker(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) == 0 {
		return "", errorf(ErrInvalidMarker, "Marker is not valid")
	}
	return string(b), nil
}

// asKMSError keeps kms errors, makes a done context's ErrCanceled and
// anything else an internal error.
func asKMSError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: ErrCanceled, Msg: "The request was canceled before it completed.", Cause: err}
	}
	return internal(err)
}

// A record that fails its integrity check (package store, mac.go) is an
// internal error whose message (for the log; a client gets
// IntegrityMessage, Message) names it and says the database was changed
// outside attestkms (internal, errors.go): the record is never used, and
// the Authenticated store has logged it (logBadRecord).

// logBadRecord is the Authenticated store's onBad: an ERROR line for every
// record refused.
func (s *Service) logBadRecord(err error) {
	s.log.Error("refusing a record that fails its integrity check: the database was changed outside attestkms", "err", err)
}

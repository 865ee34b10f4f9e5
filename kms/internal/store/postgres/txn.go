package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// The statements, by record. A write's RETURNING version is the version
// the row's trigger gave it. Creates use ON CONFLICT DO NOTHING, and writes
// naming a key check it in the statement, so that the expected refusals
// (ErrExists, ErrNotFound) leave the transaction usable, as bbolt's do.
const (
	sqlKey          = `SELECT version, record FROM keys WHERE id = $1`
	sqlKeyForUpdate = sqlKey + ` FOR UPDATE`
	sqlKeys         = `SELECT id, version, record FROM keys WHERE id >= $1 ORDER BY id LIMIT $2`
	sqlCreateKey    = `INSERT INTO keys (id, state, record) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING RETURNING version`
	sqlPutKey = `UPDATE keys SET state = $2, record = $3 WHERE id = $1 AND version = $4
		RETURNING version`
	sqlKeyVersion = `SELECT version FROM keys WHERE id = $1`
	sqlDeleteKey  = `DELETE FROM keys WHERE id = $1` // and its aliases (ON DELETE CASCADE)

	sqlAlias          = `SELECT version, record FROM aliases WHERE name = $1`
	sqlAliasForUpdate = sqlAlias + ` FOR UPDATE`
	sqlAliases        = `SELECT name, version, record FROM aliases WHERE name >= $1 ORDER BY name LIMIT $2`
	sqlAliasesOf      = `SELECT name, version, record FROM aliases WHERE key_id = $1 ORDER BY name`
	// The key is locked FOR KEY SHARE, as the foreign key's check would: a
	// concurrent delete of it makes the statement insert nothing rather
	// than fail.
	sqlCreateAlias = `INSERT INTO aliases (name, key_id, record)
		SELECT $1, $2, $3 WHERE EXISTS (SELECT FROM keys WHERE id = $2 FOR KEY SHARE)
		ON CONFLICT (name) DO NOTHING RETURNING version`
	sqlPutAlias = `UPDATE aliases SET key_id = $2, record = $3 WHERE name = $1 AND version = $4
		AND EXISTS (SELECT FROM keys WHERE id = $2 FOR KEY SHARE) RETURNING version`
	sqlAliasVersion = `SELECT version FROM aliases WHERE name = $1`
	sqlDeleteAlias  = `DELETE FROM aliases WHERE name = $1`

	sqlCredential          = `SELECT version, record FROM credentials WHERE access_key_id = $1`
	sqlCredentialForUpdate = sqlCredential + ` FOR UPDATE`
	sqlCredentials         = `SELECT access_key_id, version, record FROM credentials ORDER BY access_key_id`
	// Either unique constraint (access key id, name) makes it insert nothing.
	sqlCreateCredential = `INSERT INTO credentials (access_key_id, name, record) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING RETURNING version`
	sqlDeleteCredential = `DELETE FROM credentials WHERE access_key_id = $1`

	sqlMeta = `SELECT account_id, project_id, region, root_check, service_keys, mac FROM meta`
	// In an Update the meta row is locked, as a key's is: two nodes that
	// read-modify-write it (a service key made at first open, a region
	// recorded) take turns, the second reading what the first committed.
	sqlMetaForUpdate = sqlMeta + ` FOR UPDATE`
	sqlPutMeta       = `INSERT INTO meta (account_id, project_id, region, root_check, service_keys, mac) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (one) DO UPDATE SET account_id = $1, project_id = $2, region = $3, root_check = $4, service_keys = $5, mac = $6`

	sqlRecordsDigest          = `SELECT record FROM records_digest`
	sqlRecordsDigestForUpdate = sqlRecordsDigest + ` FOR UPDATE`
	sqlPutRecordsDigest       = `INSERT INTO records_digest (record) VALUES ($1)
		ON CONFLICT (one) DO UPDATE SET record = $1`

	sqlAuditChangeSeq    = `SELECT seq FROM audit_chains WHERE chain = $1`
	sqlSetAuditChangeSeq = `INSERT INTO audit_chains (chain, seq) VALUES ($1, $2)
		ON CONFLICT (chain) DO UPDATE SET seq = $2`
)

// The statements that begin a transaction, sent with its first statement.
const (
	beginWrite = "BEGIN ISOLATION LEVEL READ COMMITTED"
	beginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
)

// txn is a transaction on one of the pool's connections, as a store.Txn
// (or, read-only, a store.Reader). It begins with its first statement: a
// transaction that runs none costs no round trip.
type txn struct {
	s   *Store
	ctx context.Context
	// pc is the pool's connection the transaction runs on (nil in
	// Create), conn its pgx.Conn.
	pc   *pgxpool.Conn
	conn *pgx.Conn
	// lost is why the transaction has no connection (a retry could not
	// get one): every statement after, and its commit, fail with it.
	lost  error
	write bool
	begun bool
}

// each runs sql with args and calls scan on each row it returns; the
// command tag says what it did. The first statement of a transaction goes
// in one round trip with its BEGIN, and again, once, on another connection
// if its connection was found broken before any row came (Store.retryable).
func (t *txn) each(sql string, args []any, scan func(pgx.Rows) error) (pgconn.CommandTag, error) {
	if t.lost != nil {
		return pgconn.CommandTag{}, t.lost
	}
	first := !t.begun
	scanned := false
	counted := func(r pgx.Rows) error {
		scanned = true
		if scan == nil {
			return nil
		}
		return scan(r)
	}
	tag, err := t.try(sql, args, counted)
	if first && !scanned && t.pc != nil && t.s.retryable(t.ctx, err) {
		t.pc.Release()
		pc, aerr := t.s.pool.Acquire(t.ctx)
		if aerr != nil {
			t.pc, t.conn, t.begun, t.lost = nil, nil, false, t.s.mapErr(aerr)
			return pgconn.CommandTag{}, t.lost
		}
		t.pc, t.conn, t.begun = pc, pc.Conn(), false
		tag, err = t.try(sql, args, counted)
	}
	if err != nil {
		return pgconn.CommandTag{}, t.s.mapErr(err)
	}
	return tag, nil
}

// try is each, once; scan is not nil.
func (t *txn) try(sql string, args []any, scan func(pgx.Rows) error) (pgconn.CommandTag, error) {
	var rows pgx.Rows
	var batch pgx.BatchResults
	var err error
	if t.begun {
		rows, err = t.conn.Query(t.ctx, sql, args...)
	} else {
		b := &pgx.Batch{}
		if t.write {
			b.Queue(beginWrite)
		} else {
			b.Queue(beginRead)
		}
		b.Queue(sql, args...)
		batch = t.conn.SendBatch(t.ctx, b)
		t.begun = true
		if _, err = batch.Exec(); err == nil {
			rows, err = batch.Query()
		}
	}
	if err == nil {
		for rows.Next() {
			if err = scan(rows); err != nil {
				break
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if batch != nil {
		if cerr := batch.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return rows.CommandTag(), nil
}

// row runs sql, which returns at most one row, scanning it into dst:
// whether there was one.
func (t *txn) row(sql string, args []any, dst ...any) (bool, error) {
	found := false
	_, err := t.each(sql, args, func(r pgx.Rows) error {
		found = true
		return r.Scan(dst...)
	})
	return found, err
}

// isText reports whether PostgreSQL's text can hold s: UTF-8 without NUL.
// kms's ids and names always are; a read of one that is not finds nothing.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// errNotText refuses a write whose id or name text cannot hold.
func errNotText(what string) error {
	return fmt.Errorf("postgres: a %s that is not UTF-8 text without NUL cannot be stored", what)
}

// decode is the record raw of row id: store.ErrDamaged if it does not
// parse, or if it is another row's record (its own id, idOf, is not the
// row's): a record copied in the database under another id is refused, not
// served as the row's.
func decode[T any](what, id string, ver int64, raw []byte, idOf func(*T) string, setVersion func(*T, uint64)) (*T, error) {
	r := new(T)
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("postgres: stored %s %q: %w", what, id, err)
	}
	if own := idOf(r); own != id {
		return nil, fmt.Errorf("%w: postgres: stored %s %q holds the record of %q", store.ErrDamaged, what, id, own)
	}
	setVersion(r, uint64(ver))
	return r, nil
}

func decodeKey(id string, ver int64, raw []byte) (*store.Key, error) {
	return decode("key", id, ver, raw, func(k *store.Key) string { return k.ID }, func(k *store.Key, v uint64) { k.Version = v })
}

func decodeAlias(name string, ver int64, raw []byte) (*store.Alias, error) {
	return decode("alias", name, ver, raw, func(a *store.Alias) string { return a.Name }, func(a *store.Alias, v uint64) { a.Version = v })
}

func decodeCredential(id string, ver int64, raw []byte) (*store.Credential, error) {
	return decode("credential", id, ver, raw, func(c *store.Credential) string { return c.AccessKeyID }, func(c *store.Credential, v uint64) { c.Version = v })
}

// list runs sql, which returns (id, version, record) rows, decoding each.
func list[T any](t *txn, sql string, args []any, dec func(string, int64, []byte) (*T, error)) ([]*T, error) {
	var out []*T
	_, err := t.each(sql, args, func(r pgx.Rows) error {
		var id string
		var ver int64
		var raw []byte
		if err := r.Scan(&id, &ver, &raw); err != nil {
			return err
		}
		v, err := dec(id, ver, raw)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Meta is store.Reader's Meta: an empty Meta before PutMeta. In an Update
// it locks the meta row until the transaction ends.
func (t *txn) Meta() (*store.Meta, error) {
	sql := sqlMeta
	if t.write {
		sql = sqlMetaForUpdate
	}
	var m store.Meta
	if _, err := t.row(sql, nil, &m.AccountID, &m.ProjectID, &m.Region, &m.RootCheck, &m.ServiceKeys, &m.MAC); err != nil {
		return nil, err
	}
	return &m, nil
}

// AuditChangeSeq is store.Reader's AuditChangeSeq.
func (t *txn) AuditChangeSeq(chain string) (uint64, error) {
	if !isText(chain) {
		return 0, nil
	}
	var seq int64
	if _, err := t.row(sqlAuditChangeSeq, []any{chain}, &seq); err != nil {
		return 0, err
	}
	return uint64(seq), nil
}

// RecordsDigest is store.Reader's RecordsDigest: in an Update it locks
// the digest's row until the transaction ends.
func (t *txn) RecordsDigest() (*store.RecordsDigest, error) {
	sql := sqlRecordsDigest
	if t.write {
		sql = sqlRecordsDigestForUpdate
	}
	var raw []byte
	found, err := t.row(sql, nil, &raw)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	if len(raw) > store.MaxDigestRecord {
		return nil, fmt.Errorf("%w: the records digest is %d bytes, more than %d", store.ErrDamaged, len(raw), store.MaxDigestRecord)
	}
	var d store.RecordsDigest
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%w: the records digest does not decode: %v", store.ErrDamaged, err)
	}
	return &d, nil
}

// PutRecordsDigest is store.Txn's PutRecordsDigest.
func (t *txn) PutRecordsDigest(d *store.RecordsDigest) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = t.each(sqlPutRecordsDigest, []any{raw}, nil)
	return err
}

// one reads one record by id with sql (or lockSQL in an Update).
func one[T any](t *txn, sql, lockSQL, id string, dec func(string, int64, []byte) (*T, error)) (*T, error) {
	if !isText(id) {
		return nil, store.ErrNotFound
	}
	if t.write {
		sql = lockSQL
	}
	var ver int64
	var raw []byte
	found, err := t.row(sql, []any{id}, &ver, &raw)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return dec(id, ver, raw)
}

// Key is store.Reader's Key.
func (t *txn) Key(id string) (*store.Key, error) {
	return one(t, sqlKey, sqlKeyForUpdate, id, decodeKey)
}

// Keys is store.Reader's Keys.
func (t *txn) Keys(start string, limit int) ([]*store.Key, error) {
	if !isText(start) {
		return nil, errNotText("listing's start")
	}
	return list(t, sqlKeys, []any{start, limit}, decodeKey)
}

// Alias is store.Reader's Alias.
func (t *txn) Alias(name string) (*store.Alias, error) {
	return one(t, sqlAlias, sqlAliasForUpdate, name, decodeAlias)
}

// Aliases is store.Reader's Aliases.
func (t *txn) Aliases(start string, limit int) ([]*store.Alias, error) {
	if !isText(start) {
		return nil, errNotText("listing's start")
	}
	return list(t, sqlAliases, []any{start, limit}, decodeAlias)
}

// AliasesOf is store.Reader's AliasesOf.
func (t *txn) AliasesOf(keyID string) ([]*store.Alias, error) {
	if !isText(keyID) {
		return nil, nil
	}
	return list(t, sqlAliasesOf, []any{keyID}, decodeAlias)
}

// Credential is store.Reader's Credential.
func (t *txn) Credential(accessKeyID string) (*store.Credential, error) {
	return one(t, sqlCredential, sqlCredentialForUpdate, accessKeyID, decodeCredential)
}

// Credentials is store.Reader's Credentials.
func (t *txn) Credentials() ([]*store.Credential, error) {
	return list(t, sqlCredentials, nil, decodeCredential)
}

// PutMeta is store.Txn's PutMeta.
func (t *txn) PutMeta(m *store.Meta) error {
	rc := m.RootCheck
	if rc == nil {
		rc = []byte{}
	}
	// No service keys is NULL (a store made before answers were signed).
	var sk []byte
	if len(m.ServiceKeys) > 0 {
		sk = m.ServiceKeys
	}
	// No MAC is NULL (a store made before records were authenticated).
	var mac []byte
	if len(m.MAC) > 0 {
		mac = m.MAC
	}
	_, err := t.each(sqlPutMeta, []any{m.AccountID, m.ProjectID, m.Region, rc, sk, mac}, nil)
	return err
}

// SetAuditChangeSeq is store.Txn's SetAuditChangeSeq.
func (t *txn) SetAuditChangeSeq(chain string, seq uint64) error {
	if !isText(chain) {
		return errNotText("chain name")
	}
	if seq > 1<<63-1 {
		return fmt.Errorf("postgres: audit change seq %d is past bigint", seq)
	}
	_, err := t.each(sqlSetAuditChangeSeq, []any{chain, int64(seq)}, nil)
	return err
}

// written runs a write whose RETURNING version is the record's new
// version, setting *ver to it: false if it wrote nothing.
func (t *txn) written(sql string, args []any, ver *uint64) (bool, error) {
	var v int64
	found, err := t.row(sql, args, &v)
	if found {
		*ver = uint64(v)
	}
	return found, err
}

// CreateKey is store.Txn's CreateKey.
func (t *txn) CreateKey(k *store.Key) error {
	if !isText(k.ID) {
		return errNotText("key id")
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if ok, err := t.written(sqlCreateKey, []any{k.ID, k.State, raw}, &k.Version); err != nil {
		return err
	} else if !ok {
		return store.ErrExists
	}
	return nil
}

// PutKey is store.Txn's PutKey: an update conditional on the version read,
// and, if it updated nothing, a read of why.
func (t *txn) PutKey(k *store.Key) error {
	if !isText(k.ID) {
		return store.ErrNotFound
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if ok, err := t.written(sqlPutKey, []any{k.ID, k.State, raw, int64(k.Version)}, &k.Version); err != nil || ok {
		return err
	}
	var v int64
	if found, err := t.row(sqlKeyVersion, []any{k.ID}, &v); err != nil {
		return err
	} else if !found {
		return store.ErrNotFound
	}
	return store.ErrConflict
}

// DeleteKey is store.Txn's DeleteKey.
func (t *txn) DeleteKey(id string) error {
	if !isText(id) {
		return store.ErrNotFound
	}
	return t.deleted(sqlDeleteKey, id)
}

// deleted runs a delete of one row: ErrNotFound if there was none.
func (t *txn) deleted(sql, id string) error {
	tag, err := t.each(sql, []any{id}, nil)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateAlias is store.Txn's CreateAlias.
func (t *txn) CreateAlias(a *store.Alias) error {
	if !isText(a.Name) {
		return errNotText("alias name")
	}
	if !isText(a.KeyID) {
		return fmt.Errorf("%w: key %q", store.ErrNotFound, a.KeyID)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if ok, err := t.written(sqlCreateAlias, []any{a.Name, a.KeyID, raw}, &a.Version); err != nil || ok {
		return err
	}
	var v int64
	if found, err := t.row(sqlAliasVersion, []any{a.Name}, &v); err != nil {
		return err
	} else if found {
		return store.ErrExists
	}
	return fmt.Errorf("%w: key %s", store.ErrNotFound, a.KeyID)
}

// PutAlias is store.Txn's PutAlias.
func (t *txn) PutAlias(a *store.Alias) error {
	if !isText(a.Name) {
		return store.ErrNotFound
	}
	if !isText(a.KeyID) {
		return fmt.Errorf("%w: key %q", store.ErrNotFound, a.KeyID)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if ok, err := t.written(sqlPutAlias, []any{a.Name, a.KeyID, raw, int64(a.Version)}, &a.Version); err != nil || ok {
		return err
	}
	var v int64
	if found, err := t.row(sqlAliasVersion, []any{a.Name}, &v); err != nil {
		return err
	} else if !found {
		return store.ErrNotFound
	} else if uint64(v) != a.Version {
		return store.ErrConflict
	}
	return fmt.Errorf("%w: key %s", store.ErrNotFound, a.KeyID)
}

// DeleteAlias is store.Txn's DeleteAlias.
func (t *txn) DeleteAlias(name string) error {
	if !isText(name) {
		return store.ErrNotFound
	}
	return t.deleted(sqlDeleteAlias, name)
}

// CreateCredential is store.Txn's CreateCredential.
func (t *txn) CreateCredential(c *store.Credential) error {
	if !isText(c.AccessKeyID) || !isText(c.Name) {
		return errNotText("credential's access key id or name")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if ok, err := t.written(sqlCreateCredential, []any{c.AccessKeyID, c.Name, raw}, &c.Version); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: a credential with that access key id or name", store.ErrExists)
	}
	return nil
}

// DeleteCredential is store.Txn's DeleteCredential.
func (t *txn) DeleteCredential(accessKeyID string) error {
	if !isText(accessKeyID) {
		return store.ErrNotFound
	}
	return t.deleted(sqlDeleteCredential, accessKeyID)
}

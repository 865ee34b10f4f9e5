// Package store is what kms keeps: one account's keys (with every version
// of their material, their policies, tags and schedules), aliases,
// credentials and meta, behind one interface (Store) that every back end
// implements and kms alone calls. kms/internal/store/bolt is the embedded
// default, one bbolt file; kms/internal/store/postgres is one database
// that several nodes share (issue 12). Package storetest is the
// conformance suite each of them runs.
//
// This doc is the contract, written for whoever implements it.
//
// # Records
//
// The records are the types here: Meta, Key (with its Materials and Tags),
// Alias, Credential. They are plain data; kms gives them meaning. Their
// JSON names are bbolt's encoding of them, and an implementation that keeps
// a record as one document (a jsonb column) may keep it so; one that maps
// fields to columns must round-trip every field (storetest fails on a field
// it drops, and on a new field the sample records lack). Times are kept to
// the millisecond at least, and may come back in any location. Ids and
// names are compared and ordered as bytes (PostgreSQL: COLLATE "C").
//
// # What the database never sees
//
// No plaintext key material, no credential secret and no root key ever
// reaches an implementation: the records carry them sealed under the root
// key (package sealer, AES-256-GCM), and sealing happens above the store,
// in kms, with this package's helpers (SealMaterial, SealCredential,
// SealRootCheck), which bind each sealed value to what it is and whose it
// is (its purpose; a material's key id and version; a credential's access
// key id and scope), so that a value moved into another record, or a scope
// edited in the database, does not open. Whoever reads the database, its
// backups or its replication stream learns metadata (ids, names, states,
// policies, tags, dates, the account), never a secret. An implementation
// must not log records (the sealed values are safe, the policies and tags
// may not be the operator's to leak).
//
// # Records are authenticated
//
// Sealing keeps secrets from whoever reads the database, not the rest of a
// record from whoever writes it. So every record carries a MAC (mac.go):
// HMAC-SHA-256 under a key derived from the root key, over a canonical
// encoding of every stored field; Version and MAC themselves excepted.
// An implementation keeps the MAC with the record, as any other field
// (bbolt: the record's "mac" member, the meta's "mac" key; PostgreSQL: the
// record's JSON, and meta.mac), and never computes or checks it: kms goes
// through Authenticated (authenticated.go), which MACs every write and
// verifies every read, and refuses a record that fails (ErrIntegrity,
// naming it). A store whose root check is v2 (seal.go) requires a MAC on
// every record; a store made before (v1) is MACed whole by kms in one
// change, which seals the v2 check (kms/protect.go). The mark is sealed, so
// a writer without the root key cannot clear it.
//
// What a MAC does not stop — a record put back to an older version of
// itself (its MAC was valid then), a record deleted — the records digest
// finds (digest.go): a store whose root check is v3 keeps the sum of an
// element per record, which every Update of Authenticated reads first,
// locked, and writes back; an implementation keeps it as a value
// (RecordsDigest, PutRecordsDigest: bbolt's meta bucket, PostgreSQL's
// records_digest table) and never computes it. VerifyDigest compares the
// records with it; kms does at Open, at each maintenance pass and in
// store check. The whole store put back to a copy, digest included, only
// a data directory that saw a newer generation tells (kms).
//
// # Transactions
//
// View runs a function in a read-only transaction that sees one snapshot
// (SQL: REPEATABLE READ, READ ONLY). Update runs one in a read-write
// transaction and commits what it wrote, all of it or nothing; a function
// that returns an error, or panics, writes nothing, and Update returns
// that error as it is (kms's own errors travel through it). Inside an
// Update, Key, Alias and Credential lock the record they read until the
// transaction ends (SQL: SELECT … FOR UPDATE, at READ COMMITTED), so that
// kms's read-modify-write of a key never loses a concurrent one's change,
// from this process or another: ten goroutines appending a tag each leave
// ten tags (storetest), none refused. Creates must be atomic against
// concurrent creates of the same id or name (a unique constraint):
// exactly one wins, the others get ErrExists.
//
// Update never retries its function. kms writes the audit record of a
// change inside it (below), which cannot be taken back: an implementation
// that meets a serialization failure or a deadlock returns ErrConflict,
// and kms reports the change as failed.
//
// Store.Key and Store.Alias read one record outside any transaction: the
// cold path of a key use (kms caches decoded keys) and alias resolution,
// one round trip each.
//
// # A change and its audit record commit together
//
// Every change kms makes runs in one Update (kms's Service.change): its
// function makes the change, then writes the change's audit record
// durably (package audit, Log.Change), then records the record's seq in
// the same transaction (SetAuditChangeSeq); Update then commits. If the
// function fails nothing is written and the record is never made; if the
// commit fails, kms appends a line voiding the record. When the server
// next opens the store it compares the stored seq with the log: a change
// record above it is voided (the server stopped before the commit), and a
// voided one that the store's seq names is reinstated (a commit reported
// failed that did reach the disk). So an implementation must: return nil
// from Update only once the commit is durable (PostgreSQL:
// synchronous_commit on, the default); return an error whenever it cannot
// tell (a connection lost during COMMIT), which is safe, since Open
// reinstates; and store the seq in the transaction that holds the change,
// never in another.
//
// # The audit change seq: one chain now, one per node later
//
// AuditChangeSeq and SetAuditChangeSeq take a chain name. One node has one
// audit log, one hash chain, and uses "", which bbolt keeps where it always
// has (meta "audit_change_seq"). Several nodes sharing a database will each
// write their own chain (a node's file, or rows keyed by node), and each
// must compare its own log with its own seq at Open: a node then passes its
// node id as the chain, and an implementation keeps one seq per chain name
// (PostgreSQL: a table keyed by chain). kms passes "" over a store one
// process holds, and a node's id (kms/node.go) over a shared one.
//
// # Versions
//
// Every Key, Alias and Credential read carries a Version, and each write
// sets the Version of the record it was given. A Version identifies the
// record's state: it changes whenever the record does, never decreases,
// and two reads that return the same Version returned the same record. It
// may also grow when other records change (bbolt stamps every record with
// the store's revision, the number of its last commit; a PostgreSQL
// implementation may keep a per-row version, or a global sequence's value
// at the row's last change — the latter also answers "what changed since
// revision N"). PutKey and PutAlias refuse (ErrConflict) a record whose
// Version shows it was read before the stored one last changed: a second
// guard against a lost update, besides the locking read. An implementation
// may also refuse a record read in an earlier transaction that has not
// changed since (bbolt refuses any read before the store's last commit):
// kms writes only records it read in the same transaction.
//
// Versions are how caches will follow changes made elsewhere. Today one
// process holds the store, and kms drops a cached key when it commits a
// change to it. With several nodes, an implementation tells each node
// which keys, aliases and credentials changed, with their new Versions,
// and a node drops what it cached at an older Version: the optional
// interface Watcher (watch.go), which a shared store implements
// (PostgreSQL: NOTIFY at commit, LISTEN on each node, and on reconnecting
// a comparison of the revision last told with the store's).
//
// # Work that runs once
//
// Maintenance (destroying keys past their deletion date, rotating keys on
// their schedule) must run on one node at a time. TryLock takes a named
// store-wide lock without waiting (ErrHeld if another holder has it);
// release gives it back, and a holder that dies loses it. PostgreSQL:
// pg_try_advisory_lock on a connection held until release; bbolt, whose
// file one process holds: a lock in that process. The work is written to be
// safe to run twice (each change re-checks in its own transaction), so the
// lock saves work and contention; it is not what keeps the store correct.
//
// # Shredding
//
// A store whose files keep copies of deleted or replaced records (bbolt's
// freed pages) implements Compacter: kms calls it after destroying keys,
// so that nothing a destroyed key held remains in the store's files
// (docs/shredding.md). An implementation that cannot promise it
// (PostgreSQL, whose WAL keeps copies whatever the tables' files hold)
// does not implement it, and its package doc says what the operator does.
//
// # Errors, cancellation, closing
//
// Callers branch on ErrNotFound, ErrExists, ErrConflict, ErrClosed,
// ErrHeld, ErrInUse, ErrNotAStore and ErrUnavailable (errors.Is), never on an
// implementation's own errors, which may be wrapped in them with detail. A
// done context starts nothing: View, Update, Key, Alias and TryLock return
// an error wrapping ctx.Err() and do not call the function. An
// implementation that talks to a server uses the context for every call
// made within the transaction too (a Txn's methods use Update's context).
// After Close every method returns ErrClosed.
package store

// Package postgres is the store (package store) in a PostgreSQL database,
// which several attestkms nodes share (serve --store postgres://…): each
// node opens it, and what one commits every other reads at once and is
// told of (Watch). It runs on pgx (a pgxpool.Pool per Store). This doc is
// the design; package store's is the contract it implements.
//
// # Connecting
//
// Open and Create take a postgres:// URL (or a key=value connection
// string) naming the database, and Options. The password is never part of
// the command line: Options.Password is one the caller read from a file
// (--store-password-file), or else pgx reads PGPASSWORD or the passfile,
// as libpq does. Nothing here prints a URL: errors never quote it (not even
// pgx's parse errors, which may), and RedactURL is what a caller may log.
// The pool's connections are named "attestkms" in pg_stat_activity, a
// watcher's "attestkms watch", a lock holder's "attestkms lock" (an
// application_name in the URL names the pool's instead). Connect to
// PostgreSQL itself, or through a pooler in session mode: a transaction
// pooler (PgBouncer's pool_mode=transaction) breaks the session advisory
// locks, LISTEN, and the statements pgx prepares on each connection.
//
// # Schema
//
// migrations/ holds the schema's versions as SQL, embedded in the binary:
// 0001_store.sql the records, 0002_changes.sql the change notifications
// (below), 0003_service_keys.sql the answer-signing keys' column,
// 0004_record_macs.sql the meta's MAC, 0005_records_digest.sql the records
// digest (package store). Table attestkms_migrations records each version
// applied. Open applies what the database lacks in one transaction holding
// a transaction-level advisory lock (pg_advisory_xact_lock), so nodes that
// start together migrate once, one after the other, and a failed migration
// leaves the previous version whole. Open refuses (store.ErrNotAStore) a
// database with no store, and one whose schema is newer than the binary
// knows: during an upgrade, nodes already running keep running, but an
// older binary cannot start on a migrated database. A released migration
// never changes; a change is a new file.
//
// The tables, in the connection's schema (search_path, which a URL's
// search_path=… parameter sets):
//
//	meta           one row: account_id, project_id, region, root_check (sealed), version,
//	               service_keys (sealed; NULL before 0003's first open, 0003),
//	               mac (0004)
//	keys           id PRIMARY KEY, state, version, record
//	aliases        name PRIMARY KEY, key_id REFERENCES keys ON DELETE CASCADE, version, record
//	credentials    access_key_id PRIMARY KEY, name UNIQUE, version, record
//	audit_chains   chain PRIMARY KEY, seq: the audit change seq of each chain
//	changes        one row: revision, the count of changes committed (0002)
//	records_digest one row: record, the records digest's JSON (0005)
//
// A record is the JSON of its store type, byte for byte what bbolt stores,
// in a bytea column; what is looked up, ordered, or constrained by is a
// column beside it (ids and names; key_id and the credential's name, which
// constraints keep unique and existing; a key's state, for whoever queries
// the database: the record is what attestkms reads). Why not jsonb: jsonb
// cannot hold a string with \u0000 (a description, tag or policy a client
// sends may), it re-orders and re-encodes what it is given (bbolt's bytes
// would not round-trip, and a store could not be copied from bbolt value
// by value), and nothing here queries inside a record. A sealed value
// stays sealed inside it: base64 in the JSON, as in bbolt.
//
// Ids and names are text COLLATE "C", ordered as bytes, as bbolt orders
// them (listings page by them). PostgreSQL text cannot hold NUL or invalid
// UTF-8, which kms never makes: a read of such an id finds nothing, a
// write of one is an error.
//
// # Versions
//
// Every row's version comes from one sequence (record_version), set by a
// trigger on every insert and update, whoever makes it (attestkms, or an
// administrator by hand). So a record's Version grows with each change to
// it, and is never reused, even by a record deleted and made again under
// the same id: two reads with one Version read one state. Versions of
// different records are not in commit order (a sequence is not
// transactional); the revision below is. Not xmin (the id of the
// transaction that wrote the row), which would cost no column: it is 32
// bits and wraps around, so it does not grow forever, and the same value
// can name two states of a record years apart.
//
// # Transactions and locking
//
// View is one transaction at REPEATABLE READ, READ ONLY: one snapshot.
// Update is one at READ COMMITTED, in which Meta, Key, Alias and Credential
// read with SELECT … FOR UPDATE, so that the record stays as read until the
// transaction ends: two nodes changing one key's tags serialise on its row
// and neither loses the other's change; two nodes that first-open a store
// without a service key, or rotate it at once, serialise on the meta row. PutKey and PutAlias update only
// where the version is the one read (a second guard, and what refuses a
// record read in another transaction and changed since: ErrConflict).
// Creates are INSERT … ON CONFLICT DO NOTHING, and a write naming a key
// checks it in the statement (locking it FOR KEY SHARE, as the foreign key
// would), so that ErrExists and ErrNotFound leave the transaction usable,
// as they do in bbolt. DeleteKey deletes the key's aliases by the foreign
// key's cascade.
//
// A transaction begins with its first statement, sent with its BEGIN in
// one round trip, and ends with COMMIT (one more), or ROLLBACK when fn
// fails; an Update that ran nothing costs none. Store.Key and Store.Alias
// are one statement, outside a transaction: one round trip. RoundTrips
// counts them (the benchmarks report them per operation).
//
// PostgreSQL's refusals map to store's errors: a serialization failure, a
// deadlock or a lock not available is store.ErrConflict; a unique
// violation store.ErrExists; a foreign key violation store.ErrNotFound;
// another is an error naming PostgreSQL's message and SQLSTATE, never its
// detail (which quotes values) nor a statement's arguments. Update never
// retries (store's doc). A statement's error that fn does not return
// leaves the transaction aborted, and its COMMIT is refused
// (store.ErrConflict): nothing is written.
//
// A commit is acknowledged once durable: Open and Create refuse a server
// with synchronous_commit or fsync off. Update returns nil only when COMMIT
// answered COMMIT; a connection lost during COMMIT is an error even if the
// commit happened, which kms's audit reconciles at Open (store's doc).
//
// # Notifications
//
// Migration 0002 puts a deferred trigger on meta, keys, aliases and
// credentials: at commit, each row inserted, updated or deleted adds one
// to changes.revision and sends NOTIFY attestkms_changes with the JSON
// [revision, kind, id, version] (version 0: deleted). PostgreSQL delivers a
// transaction's notifications only if it commits, in commit order, to every
// connection that LISTENs; and since the trigger updates the one counter
// row at commit, revisions are in commit order too. (PostgreSQL already
// serialises the commits of notifying transactions on its notification
// queue's lock, from the commit's start to its end, so the counter row
// costs no concurrency: the commits of changes, from every node, happen
// one at a time, as bbolt's did in one process, while their transactions
// run side by side, each locking the rows it reads for update. Reads and
// key uses are not changes.) A change made by hand in psql notifies too;
// one made with the triggers disabled (ALTER TABLE … DISABLE TRIGGER, or
// session_replication_role = replica) does not, and caches miss it.
//
// Watch (store.Watcher) LISTENs on a connection of its own and tells each
// change to its function. It remembers the last revision told: a
// notification with the next one advances it, one further on (a gap: some
// were missed) is ChangedAll after reading the revision afresh, and one
// that is not a change is ChangedAll. Whoever can connect to the database
// can NOTIFY on the channel, so a notification's revision is believed only
// when it is the next, and every change is told, even at a revision told
// already (after a reconnection, or a forgery): a forged notification can
// make caches drop what they hold, never keep what they should drop. On
// (re)connecting it LISTENs, then
// reads the revision: equal to the last told, nothing was missed
// (WatchResumed); else ChangedAll (and always ChangedAll on the first
// connection, whose caller may have cached before). While no notification
// comes it reads the revision every 200 ms, which must answer within 600
// ms: a connection that stopped answering (a partition, a server that
// froze) is reported WatchLost within 0.8 s, like one that closed, and
// a revision read that no notification reaches by the next read (lost
// notifications) is ChangedAll. It reconnects at once, then with backoff
// from 50 ms to 5 s. Its function runs on its goroutine; store.Watcher's
// doc says how a cache uses what it is told, and the race a cache filled
// by concurrent reads must close.
//
// # Work that runs once
//
// TryLock takes pg_try_advisory_lock on a 64-bit hash of the name, on a
// connection of its own held until release closes it: the lock is the
// session's, so a holder that dies, or whose connection drops, loses it.
// The holder is not told; what the lock guards is safe to run twice.
//
// # The audit change seq
//
// audit_chains keeps one seq per chain name, written in the transaction of
// the change whose record it names (SetAuditChangeSeq): "" for a single
// node's chain, a node id each when nodes keep their own chains.
//
// # When the database is down
//
// A method that needs the database and cannot reach it, or whose
// connection breaks, fails with store.ErrUnavailable and the cause
// ("failed to connect to …: connection refused", "terminating connection
// due to administrator command", "the database system is starting up"),
// after its context's deadline at the latest: a failure of a dependency,
// which the client may retry. A server that refuses the role or the
// database is not "unavailable" but misconfigured, and says so. Nothing is
// half-written: an Update whose connection dies is rolled back by the
// server, except that a commit whose connection broke may have committed
// (store's doc).
//
// The pool reconnects by itself: a method after the server returns opens
// new connections. A restart leaves the pool's idle connections dead, so a
// statement that began no transaction, or the first of one (its BEGIN
// with it), that finds its connection broken closes the idle ones
// (pgxpool's Reset) and is sent once more on a new connection: the server
// did not run it, or rolled it back with the connection, and fn sees only
// the answer. Later statements of a transaction are never sent again. So
// a restart costs the requests made while the server was down, and none
// after. Watch reports WatchLost, reconnects with backoff, and tells
// ChangedAll if anything committed meanwhile, else WatchResumed. A
// TryLock holder's lock is gone with its connection; the next TryLock takes
// it again once the server is back. Open does not wait for a server that
// is not there: it fails (store.ErrUnavailable), and the caller retries.
//
// # Round trips
//
// Counted by RoundTrips, once a connection has prepared its statements
// (pgx caches them per connection: a statement's first use on a
// connection costs one more), and held by TestRoundTrips:
//
//	Store.Key, Store.Alias                 1  (a key's cold read, an alias resolved)
//	View reading one key                   2  (BEGIN with the read; COMMIT)
//	a change as kms makes it               4  (BEGIN with the locking read; the write;
//	                                           the audit change seq; COMMIT)
//	an Update that runs no statement       0
//
// A warm key use in kms reads its cache and costs none; kms's own figures
// are its benchmarks'. kms's changes, through store.Authenticated, cost
// three more in a digested store (the records digest locked first, the
// stored record read again before a write that replaces or deletes it,
// the digest written): kms's BenchmarkShared/TagResource, 8 a change.
//
// # Destroyed keys (crypto-shredding)
//
// The store does not implement store.Compacter. A destroyed key's row is
// deleted in its change; its dead tuple stays in the table's files until a
// vacuum prunes it, and plain VACUUM does not promise to overwrite it.
// VACUUM (FULL) keys, credentials rewrites both tables (their TOAST tables
// and indexes) into new files of live rows and unlinks the old ones, but it
// holds an ACCESS EXCLUSIVE lock meanwhile (every node's reads and writes
// of keys wait), and the WAL, its archive, replicas and base backups keep
// copies whatever the tables' files hold. So a Compact here could not
// promise what the interface does; the operator runs the procedure of
// docs/shredding.md. pg_dump reads live rows: a dump taken after the
// destruction never holds it (kms.TestDestroyedKeyIsShreddedInPgDump).
//
// # Threat model
//
// The database is trusted for availability and durability, never for
// confidentiality, nor for the integrity of a record; that it keeps every
// record it was given, at its newest version, is checked (the records
// digest, below). Everything secret in it is sealed under the root key
// (AES-256-GCM, package sealer), which it never sees, by package store's
// helpers, above this package: key material, credential secrets and the
// root check. Whoever reads the database, a backup of it, a replica or the
// replication stream learns the metadata (ids, names, states, policies,
// tags, dates, the account and project ids), never a secret; the package
// logs no record.
//
// Whoever can write it (a database administrator, a stolen role password)
// but does not hold the root key cannot change a record unseen. Every
// record carries a MAC under a key derived from the root key (package
// store, "Records are authenticated"; the meta's in meta.mac), over every
// field kms reads: a key's policy, state or tags, an alias's target, a
// credential's name, admin flag, identity policy or expiry edited in its
// record, or its MAC removed, is refused when read (store.ErrIntegrity: a
// running node drops the credential, which then authenticates nothing; a
// request reading the key or alias is refused; a node opening refuses the
// store). A record copied, MAC and all, under another row's id or name is
// refused too (store.ErrDamaged: its own id is not the row's), and so is a
// sealed blob moved to another record (sealer.ErrOpen): the sealing binds
// each value to what it is for and whose it is (a material to its key id
// and version, a credential secret to its access key id and, when scoped,
// to its name, admin flag, identity policy and expiry, the root check to
// its purpose).
//
// The columns beside a record are copies, for lookups and constraints;
// kms decides on the record. credentials.name in particular is never read:
// a credential's name, and with it its principal ARN and the admin
// permission the root credential's name carries, is its record's, under
// its MAC (an unscoped credential, whose sealing binds its access key id
// alone, is bound to its name by the MAC), and credential delete and
// rotate take an access key id. The column only keeps names unique. A
// writer who edits it (kms.TestSharedCredentialNameColumnAttack: the root
// credential's column, ci's and payments' shuffled, changes nothing) can
// make the constraint refuse a create of a name no credential bears
// (store.ErrExists), or fail to refuse a duplicate: kms refuses a name its
// own credentials hold before it writes, so a duplicate can only be one an
// admin creates on a node that has not yet followed another node's create
// of the same name (the follow bound), a credential an admin asked to bear
// that name; the writer makes none.
//
// What it can still do:
//   - delete records: destroy keys (ciphertexts under them become
//     undecryptable), aliases, credentials — denial of service, and
//     irreversible without a backup;
//   - put a record back to an older version of itself, whose MAC was
//     valid then: revive a credential deleted or rotated away, re-enable a
//     disabled key, undo a policy change, an alias's move or a rotation;
//     with the other columns moved out of the way of the constraints (a
//     revived credential's name column, say).
//
// Both the records digest finds (package store, digest.go; kms/digest.go):
// Open refuses the store, and a node's maintenance pass (every minute)
// finds it, after which the node refuses every operation; until then a
// record put back is served (a revived credential authenticates on the
// nodes told of it). The whole database put back to an older copy, digest
// included, only a node whose data directory saw a newer digest tells.
// Anything else it writes (garbage, a record of another store) is refused,
// as damaged or failing its MAC: denial of service.
//
// A store made by an attestkms from before records were authenticated
// (root check v1) has no MACs, and there a writer could rename a credential
// sealed unscoped (no admin flag, identity policy or expiry: the root
// credential, and every credential made before scopes) to the root
// credential's name, which kms trusts as admin. Only attestkms store
// protect opens such a store (any other Open: kms.ErrUnprotected), and it
// MACs the records as it finds them: an operator who doubts what the
// database held before protects a copy restored from a backup made before
// the doubt. A v1 root check put back later is refused by every data
// directory that opened the store protected (kms/protect.go).
//
// What it cannot do without the root key: read a key's material or a
// credential's secret, make a key whose material it knows, make a
// credential that authenticates, or make one credential authenticate as
// another (with another's name, permission, identity policy or access
// key). The notifications carry ids and versions only; a client of the
// database that NOTIFYs on the channel can make caches drop what they hold
// (ChangedAll), nothing more.
package postgres

package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// Store is the PostgreSQL store. Its methods are store.Store's and
// store.Watcher's.
type Store struct {
	pool *pgxpool.Pool
	// single is the pool's connection config, for the connections that are
	// not the pool's: a lock's, a watcher's.
	single *pgx.ConnConfig
	rt     atomic.Uint64 // round trips (RoundTrips)

	// done is canceled by Close: it stops watchers.
	done   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   atomic.Bool        // set under mu
	locks    map[*pgx.Conn]bool // TryLock's held connections, closed by release or Close
	watchers sync.WaitGroup     // running Watch calls, added to under mu
	// hooks are for tests: listen runs before each LISTEN; pingTimeout,
	// if not zero, replaces watchPingTimeout.
	hooks struct {
		listen      func()
		pingTimeout time.Duration
	}
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Options configure Open and Create. Zero values: the URL's settings.
type Options struct {
	// Password is the database role's password, which the caller read from
	// a file (--store-password-file), never from the command line. Empty:
	// the URL's if it has one, else PGPASSWORD, else the passfile
	// (PGPASSFILE or ~/.pgpass), as libpq finds them.
	Password string
	// MaxConns bounds the pool's connections (besides one per held lock
	// and one per Watch). Zero: the URL's pool_max_conns, else the larger
	// of 4 and the number of CPUs.
	MaxConns int32
}

// newStore makes a Store on rawURL's database without connecting: the pool
// connects when first used.
func newStore(rawURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// Not the parser's text: it may quote the URL, password and all.
		return nil, errors.New("postgres: the store's URL does not parse as a postgres:// URL or a key=value connection string")
	}
	cc := cfg.ConnConfig
	if opts.Password != "" {
		cc.Password = opts.Password
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "attestkms"
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	s := &Store{locks: map[*pgx.Conn]bool{}}
	cc.DialFunc = countingDial(cc.DialFunc, &s.rt)
	s.single = cc.Copy()
	s.pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.done, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Open opens the store in the database rawURL names, which Create made,
// first migrating its schema to this package's (under an advisory lock, so
// that nodes starting together migrate once): store.ErrNotAStore if the
// database holds no store, or one whose schema is newer than this
// package's. It refuses a server that does not make a commit durable before
// acknowledging it (synchronous_commit or fsync off). The pool reconnects
// by itself whenever the server comes back.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	s, err := newStore(rawURL, opts)
	if err != nil {
		return nil, err
	}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.mapErr(err)
	}
	defer conn.Release()
	c := conn.Conn()
	if err := s.checkDurable(ctx, c); err != nil {
		return err
	}
	return s.inTx(ctx, c, func() error {
		if err := lockMigrations(ctx, c); err != nil {
			return unavailable(err)
		}
		v, err := schemaVersion(ctx, c)
		if err != nil {
			return unavailable(err)
		}
		if v == 0 {
			return fmt.Errorf("%w: the database holds no attestkms store (attestkms init --store makes one)", store.ErrNotAStore)
		}
		return unavailable(migrate(ctx, c, v, len(migrations)))
	})
}

// unavailable is err, wrapped in store.ErrUnavailable if it is a broken
// connection.
func unavailable(err error) error {
	if broken(err) && !errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// Create makes a new store in the database rawURL names and runs fn in its
// first transaction, which writes the store's meta (PutMeta) and whatever
// else a new store holds: the schema and what fn writes commit together or
// not at all, so a crash leaves no half-made store. A database that holds a
// store already is store.ErrExists. The database may hold other tables,
// but none of the store's names.
func Create(ctx context.Context, rawURL string, opts Options, fn func(store.Txn) error) error {
	s, err := newStore(rawURL, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.mapErr(err)
	}
	defer conn.Release()
	c := conn.Conn()
	if err := s.checkDurable(ctx, c); err != nil {
		return err
	}
	return s.inTx(ctx, c, func() error {
		if err := lockMigrations(ctx, c); err != nil {
			return unavailable(err)
		}
		v, err := schemaVersion(ctx, c)
		if err != nil {
			return unavailable(err)
		}
		if v != 0 {
			return fmt.Errorf("%w: the database holds an attestkms store (schema version %d)", store.ErrExists, v)
		}
		if err := migrate(ctx, c, 0, len(migrations)); err != nil {
			return unavailable(err)
		}
		return fn(&txn{s: s, ctx: ctx, conn: c, write: true, begun: true})
	})
}

// checkDurable refuses a server that acknowledges a commit before it is
// durable: kms tells a client a key exists, and commits a change with its
// audit record, only once the commit is (store's doc).
func (s *Store) checkDurable(ctx context.Context, c *pgx.Conn) error {
	var syncCommit, fsync string
	err := c.QueryRow(ctx, "SELECT current_setting('synchronous_commit'), current_setting('fsync')").Scan(&syncCommit, &fsync)
	if err != nil {
		return s.mapErr(err)
	}
	if syncCommit == "off" || fsync == "off" {
		return fmt.Errorf("postgres: the server acknowledges commits before they are durable (synchronous_commit %s, fsync %s): attestkms needs both on", syncCommit, fsync)
	}
	return nil
}

// inTx runs fn in a transaction on c, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, c *pgx.Conn, fn func() error) error {
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return s.mapErr(err)
	}
	if err := fn(); err != nil {
		rollback(ctx, c)
		return err
	}
	return s.commit(ctx, c)
}

// commit commits c's transaction: an error unless PostgreSQL says it
// committed.
func (s *Store) commit(ctx context.Context, c *pgx.Conn) error {
	tag, err := c.Exec(ctx, "COMMIT")
	if err != nil {
		// Lost in COMMIT, it may have committed: the caller's error says
		// it failed, which kms reconciles at Open (store's doc).
		return s.mapErr(fmt.Errorf("committing: %w", err))
	}
	if tag.String() != "COMMIT" {
		// PostgreSQL answers COMMIT with ROLLBACK in a transaction that an
		// error aborted (one fn saw and did not return).
		return fmt.Errorf("%w: a statement of the transaction failed, so PostgreSQL rolled it back", store.ErrConflict)
	}
	return nil
}

// rollback ends c's transaction, if it has one, writing nothing, even when
// ctx is done. If that fails the connection is broken, and the pool
// discards it when released.
func rollback(ctx context.Context, c *pgx.Conn) {
	if c == nil || c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c.Exec(ctx, "ROLLBACK")
}

// begin checks what every method checks first: ctx and the store.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// run runs fn in a transaction (package doc, "Transactions").
func (s *Store) run(ctx context.Context, write bool, fn func(*txn) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.mapErr(err)
	}
	t := &txn{s: s, ctx: ctx, pc: pc, conn: pc.Conn(), write: write}
	defer func() { // the txn's last connection: it may change
		if t.pc != nil {
			t.pc.Release()
		}
	}()
	done := false
	defer func() {
		if !done { // fn failed or panicked
			rollback(ctx, t.conn)
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	done = true
	if t.lost != nil {
		return t.lost
	}
	if !t.begun {
		return nil // fn read and wrote nothing
	}
	return s.commit(ctx, t.conn)
}

// View is store.Store's View: REPEATABLE READ, READ ONLY.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.run(ctx, false, func(t *txn) error { return fn(t) })
}

// Update is store.Store's Update: READ COMMITTED, reads of one record
// locking it.
func (s *Store) Update(ctx context.Context, fn func(store.Txn) error) error {
	return s.run(ctx, true, func(t *txn) error { return fn(t) })
}

// Key is store.Store's Key: one statement, one round trip.
func (s *Store) Key(ctx context.Context, id string) (*store.Key, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if !isText(id) {
		return nil, store.ErrNotFound
	}
	ver, raw, err := s.get(ctx, sqlKey, id)
	if err != nil {
		return nil, err
	}
	return decodeKey(id, ver, raw)
}

// Alias is store.Store's Alias: one statement, one round trip.
func (s *Store) Alias(ctx context.Context, name string) (*store.Alias, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if !isText(name) {
		return nil, store.ErrNotFound
	}
	ver, raw, err := s.get(ctx, sqlAlias, name)
	if err != nil {
		return nil, err
	}
	return decodeAlias(name, ver, raw)
}

// get reads one record's version and JSON with sql, outside a transaction.
// A connection found broken is retried once (retryable).
func (s *Store) get(ctx context.Context, sql, id string) (ver int64, raw []byte, err error) {
	for try := 0; ; try++ {
		err = s.pool.QueryRow(ctx, sql, id).Scan(&ver, &raw)
		if try == 0 && s.retryable(ctx, err) {
			continue
		}
		return ver, raw, s.mapErr(err)
	}
}

// retryable reports whether err is a broken connection, after which a
// statement that began no transaction, or the first of one, may be sent
// again on another connection: the server did not run it, or ran it in a
// transaction that the connection's end rolled back. It then closes the
// pool's idle connections (pgxpool.Pool.Reset; those in use close when
// released): a server restart breaks them all, and each would otherwise
// fail a request in turn.
func (s *Store) retryable(ctx context.Context, err error) bool {
	if !broken(err) || ctx.Err() != nil || s.closed.Load() {
		return false
	}
	s.pool.Reset()
	return true
}

// broken reports whether err says that the connection failed, or could not
// be made, rather than that the server refused a statement or that ctx
// ended.
func broken(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	hasPgErr := errors.As(err, &pgErr)
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// Refused by the server, or not reached: it is not there to use
		// (starting, stopping, full, closed to connections), unless it
		// refused the role or the database, which waiting will not mend.
		return !hasPgErr || !strings.HasPrefix(pgErr.Code, "28") && pgErr.Code != "3D000"
	}
	if hasPgErr {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
			"53300": // too many connections
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection exception
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, net.ErrClosed)
}

// TryLock is store.Store's TryLock: pg_try_advisory_lock on a connection of
// its own (not the pool's), which release closes; the lock goes with the
// connection, so a holder that dies, or whose connection the server drops,
// loses it. The holder is not told when that happens: the work TryLock
// guards is safe to run twice (store's doc).
func (s *Store) TryLock(ctx context.Context, name string) (func(), error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	c, err := s.dial(ctx, "attestkms lock")
	if err != nil {
		return nil, err
	}
	var got bool
	key := advisoryKey("lock", name)
	if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		closeConn(c)
		return nil, s.mapErr(err)
	}
	if !got {
		closeConn(c)
		return nil, store.ErrHeld
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		closeConn(c)
		return nil, store.ErrClosed
	}
	s.locks[c] = true
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		held := s.locks[c]
		delete(s.locks, c)
		s.mu.Unlock()
		if held {
			// Unlocked before the connection closes: a closed connection's
			// backend lets go of its locks only once it has exited, after
			// Close returned, and a TryLock right after this release
			// (another maintenance run, another node) must find it free.
			// If the unlock fails, closing still frees it, a moment later.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.Exec(uctx, "SELECT pg_advisory_unlock($1)", key)
			cancel()
			closeConn(c)
		}
	}, nil
}

// advisoryKey is the advisory lock key of name in space: the first 8 bytes
// of a SHA-256, so that names do not collide in practice.
func advisoryKey(space, name string) int64 {
	h := sha256.Sum256([]byte("attestkms advisory lock\x00" + space + "\x00" + name))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// dial opens a connection outside the pool, named app in pg_stat_activity.
func (s *Store) dial(ctx context.Context, app string) (*pgx.Conn, error) {
	cc := s.single.Copy()
	cc.RuntimeParams["application_name"] = app
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return c, nil
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Close(ctx)
}

// Close is store.Store's Close: it stops every Watch, releases every lock,
// waits for running transactions and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	locks := s.locks
	s.locks = map[*pgx.Conn]bool{}
	s.mu.Unlock()
	s.cancel()
	s.watchers.Wait()
	for c := range locks {
		closeConn(c)
	}
	s.pool.Close()
	return nil
}

// RoundTrips is how many round trips to the server the store has made,
// over all its connections, since Open: each time a connection writes after
// it has read counts one, as do a connection's first write and those of its
// handshake (TLS, authentication). Benchmarks divide it by operations.
func (s *Store) RoundTrips() uint64 { return s.rt.Load() }

// countingDial wraps dial so that its connections count round trips in rt.
func countingDial(dial pgconn.DialFunc, rt *atomic.Uint64) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cc := &countingConn{Conn: c, rt: rt}
		cc.read.Store(true)
		return cc, nil
	}
}

type countingConn struct {
	net.Conn
	rt   *atomic.Uint64
	read atomic.Bool // the last I/O was a read: the next write is a new round trip
}

func (c *countingConn) Write(b []byte) (int, error) {
	if c.read.Swap(false) {
		c.rt.Add(1)
	}
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

// mapErr turns PostgreSQL's and the pool's errors into store's (package
// doc, "Errors"). The text kept is PostgreSQL's message, never its detail
// (which quotes values), nor a statement's arguments.
func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if s.closed.Load() && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v)", store.ErrClosed, err)
	}
	if broken(err) {
		return unavailable(err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "55P03": // serialization failure, deadlock, lock not available
			return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.Message)
		case "23505": // unique violation
			return fmt.Errorf("%w: %s", store.ErrExists, pgErr.Message)
		case "23503": // foreign key violation: an alias's key is gone
			return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.Message)
		}
		return fmt.Errorf("postgres: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return fmt.Errorf("postgres: %w", err)
}

// RedactURL is rawURL with its password, and any password or sslpassword
// parameter, replaced by "xxxxx": what
// may be logged or shown of a store's URL.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return "(a connection string that is not a URL, not shown)"
	}
	q := u.Query()
	hid := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") { // password, sslpassword
			q[k] = []string{"xxxxx"}
			hid = true
		}
	}
	if hid {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

package kms

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Every operation writes its own audit record (package audit's doc has the
// log's design). An operation is one of three kinds, by what it may release
// or change, and the kind says when its record is written and what a record
// that cannot be written does:
type opKind int

const (
	// opRead reads what is not secret (metadata, public keys, policies,
	// listings): its record is appended, and the answer goes out even if
	// the line cannot be written, so that a full disk leaves public reads
	// working (Ready reports the log).
	opRead opKind = iota
	// opUse uses a key or makes a secret: it answers only once its record is
	// durable; if it cannot be written the answer is withheld (its secrets
	// zeroed) and the operation fails with ErrInternal.
	opUse
	// opChange changes the store: the record of a change commits with it
	// (Service.change); a failed one is written as opUse's.
	opChange
)

// opState is what an operation's record says beyond the Call: it lives on
// the operation's own copy of the Call (begin), never on the caller's.
type opState struct {
	name         string
	kind         opKind
	keyARN       string
	sourceKeyARN string
	credential   string // the access key id a credential operation created, rotated to or deleted
	attestation  *AttestationSummary
	bypassed     []string
	message      string            // a note for the record of a success
	aliases      map[string]string // key id -> the alias the request named it by (kms:RequestAlias)
	recorded     bool              // the record (or its void) is written
	expected     bool              // the log was told its durable record is coming (run)
	// arnOf and arn are the last ARN keyARN built for this operation (a
	// request names its key's ARN four times: authorization, its facts,
	// the answer, the record): one string, and one region in all of them.
	arnOf, arn string
}

// begin returns the Call operation name works on: a copy of c, so that kms
// never writes to its caller's Call, collecting what its record says.
func begin(c *Call, name string, kind opKind) *Call {
	if c == nil {
		c = &Call{}
	}
	// The copy and its operation's state in one allocation.
	cc := &struct {
		Call
		op opState
	}{Call: *c, op: opState{name: name, kind: kind}}
	cc.Call.op = &cc.op
	return &cc.Call
}

// systemCall is the Call of what the service does by itself (maintenance,
// a region move at Open): its records name no principal.
func systemCall(requestID, name string) *Call {
	return begin(&Call{RequestID: requestID, Dialect: "admin"}, name, opChange)
}

// run is an operation: fn on the operation's own Call, then its record
// (finish). A node that does not follow its shared store runs none.
func run[Req, Resp any](s *Service, ctx context.Context, c *Call, name string, kind opKind, req *Req, fn func(context.Context, *Call, *Req) (*Resp, error)) (*Resp, error) {
	c = begin(c, name, kind)
	if err := s.damage(); err != nil {
		// The store's records are not those its digest sums (digest.go).
		return finish[Resp](s, c, nil, internal(err))
	}
	if s.follow != nil {
		// A node of a shared store serves only while it follows the
		// store's changes (follow.go): its caches may be stale otherwise.
		if err := s.follow.errWait(ctx); err != nil {
			return finish[Resp](s, c, nil, internal(err))
		}
	}
	if kind == opUse {
		// Its record is on its way: a batch being synced may wait for it
		// (audit's Expect), whatever becomes of the operation. Counted
		// after the wait for the store's meta (up to a second), which no
		// batch should wait for.
		s.audit.Expect(1)
		c.op.expected = true
		defer s.arrived(c)
	}
	resp, err := fn(ctx, c, req)
	return finish(s, c, resp, err)
}

// finish writes the record of c's operation, which answered resp or err,
// and returns what the caller gets: resp, or err marked as audited
// (Audited), or — when the record of a use or change cannot be written — an
// internal error, resp's secrets zeroed.
func finish[Resp any](s *Service, c *Call, resp *Resp, err error) (*Resp, error) {
	written, refusal := s.audited(c, err)
	if refusal != nil {
		if w, ok := any(resp).(wiper); ok && resp != nil {
			w.wipe()
		}
		if err == nil {
			err = refusal
		}
		return nil, err
	}
	if err != nil {
		if written {
			err = &auditedError{err}
		}
		return nil, err
	}
	return resp, nil
}

// wiper is a response holding secrets, which wipe zeroes.
type wiper interface{ wipe() }

// audited writes the record of c's operation, which ended with err, unless
// it is written already (a change's, in its transaction). written reports
// whether it is; refusal, for a use or a change, why it is not.
func (s *Service) audited(c *Call, err error) (written bool, refusal error) {
	st := c.op
	s.arrived(c)
	if st.recorded {
		return true, nil
	}
	rec := s.record(c, err)
	if st.kind == opRead {
		return s.audit.Append(rec) == nil, nil
	}
	if werr := s.audit.Write(rec); werr != nil {
		return false, auditUnavailable(werr)
	}
	st.recorded = true
	return true, nil
}

// arrived tells the audit log that c's record, if it was expected, is no
// longer on its way: it is about to be written, or never will be.
func (s *Service) arrived(c *Call) {
	if c.op.expected {
		c.op.expected = false
		s.audit.Expect(-1)
	}
}

// record is the audit record of c's operation, which ended with err.
func (s *Service) record(c *Call, err error) *audit.Record {
	st := c.op
	r := &audit.Record{
		Time: s.now().UTC(), RequestID: c.RequestID, SourceIP: c.SourceIP, Dialect: c.Dialect, Operation: st.name,
		KeyARN: st.keyARN, SourceKeyARN: st.sourceKeyARN, Attestation: st.attestation, BypassedChecks: st.bypassed,
		Outcome: audit.OK, Message: st.message, Credential: st.credential,
	}
	if c.Principal != nil {
		r.AccessKeyID, r.Principal = c.Principal.AccessKeyID, c.Principal.ARN
	}
	if err != nil {
		r.Outcome = audit.Error
		r.ErrorCode, r.Message = c.wireError(err)
		// Bounded whatever the dialect's WireError did (MaxMessage).
		r.Message = ClipMessage(r.Message)
		var ie *store.IntegrityError
		if errors.As(err, &ie) {
			// The client was told only that a record failed (Message):
			// the auditor is told which, and why.
			r.Message += " (" + ie.Error() + ")"
		}
	}
	return r
}

// wireError is how c's dialect answers err (Call.WireError), else its kms
// kind and message.
func (c *Call) wireError(err error) (code, message string) {
	if c.WireError != nil {
		return c.WireError(err)
	}
	return Kind(err).Error(), Message(err)
}

// errAuditUnavailable is the cause of an operation refused because its
// record could not be written.
var errAuditUnavailable = errors.New("the audit log cannot be written")

func auditUnavailable(err error) error {
	return &Error{Kind: ErrInternal, Msg: "internal error", Cause: fmt.Errorf("%w: %w", errAuditUnavailable, err)}
}

// auditedError marks an operation's error as audited: its record is
// written (Audited).
type auditedError struct{ err error }

func (e *auditedError) Error() string { return e.err.Error() }
func (e *auditedError) Unwrap() error { return e.err }

// Audited reports whether err, an operation's, has its audit record: an
// error that does not (a dialect's own refusal, or an operation's whose
// record could not be written) is the caller's to record (AuditRefusal).
func Audited(err error) bool {
	var a *auditedError
	return errors.As(err, &a)
}

// AuditRefusal records a request that reached no operation, or that its
// dialect refused itself: c is its call, operation its name as the dialect
// gives it, err the refusal. The refusal goes out whatever happens to the
// line; the error says whether it was written.
func (s *Service) AuditRefusal(c *Call, operation string, err error) error {
	c = begin(c, operation, opRead)
	return s.audit.Append(s.record(c, err))
}

// change runs fn in one write transaction of the store and commits the
// change with c's audit record, or neither (package audit's doc): the record
// is written, durably, after fn succeeds and before the commit, and the
// transaction stores its seq (Txn.SetAuditChangeSeq); a record that cannot
// be written aborts the change (ErrInternal); a commit that fails voids the
// record, the void saying the store error's kind and the start of its text
// on one line (maxVoidCause), never the whole. The cached keys named by
// invalidate, and every key and alias the transaction wrote, are dropped
// from the cache once it ends, whatever happened. A done ctx starts nothing
// (ErrCanceled). fn returning an error changes nothing and writes nothing:
// the operation's record says what happened.
//
// Changes run one at a time in a process (changeMu), whatever the store
// lets run side by side: the audit log resolves at Open only the newest
// change record of its chain, so a chain has at most one unresolved.
func (s *Service) change(ctx context.Context, c *Call, fn func(tx store.Txn) error, invalidate ...string) error {
	if err := canceled(ctx); err != nil {
		return err
	}
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	w := &writes{}
	defer func() {
		s.keys.drop(append(invalidate, w.ids...))
		for _, id := range w.deletedKeys {
			s.keys.dropKeyAliases(id)
		}
	}()
	var ch *audit.Change // the record, once written
	var fnErr error      // fn's own, or the record's refusal: no record to void
	committed := false
	var cause error
	defer func() {
		if ch != nil && !committed { // a failed commit, or a panic in it
			c.op.recorded = true // the void is the request's record
			void := s.record(c, internal(cause))
			void.Message = "the change was not committed"
			if cause != nil {
				void.Message += " (" + storeErrorKind(cause) + "): " + clipLine(cause.Error(), maxVoidCause)
			}
			ch.Void(void) // if it fails, the log writes it before any later line
		}
	}()
	// The highest generation of the records digest the data directory has
	// seen, read before the change locks the digest (digest.go).
	seen, err := s.seenDigest()
	if err != nil {
		return internal(err)
	}
	var tracked *trackedTxn
	err = s.st.Update(ctx, func(tx store.Txn) error {
		tracked = &trackedTxn{Txn: tx, w: w}
		if d, ok := store.TxnLocked(tx); ok && checkDigest {
			// The store put back whole to an older copy: this change
			// would carry its digest's generation on, and past what
			// the directory saw, unseen. The node stops, as a
			// maintenance pass that found it would make it.
			if damage := checkSeen(d, seen, filepath.Join(s.opts.DataDir, recordsGenMarker)); damage != nil {
				s.setDamaged(damage)
				fnErr = internal(damage)
				return fnErr
			}
		}
		if fnErr = fn(tracked); fnErr != nil {
			return fnErr
		}
		var err error
		s.arrived(c)
		if ch, err = s.audit.Change(s.record(c, nil)); err != nil {
			ch = nil
			fnErr = auditUnavailable(err)
			return fnErr
		}
		return tx.SetAuditChangeSeq(s.chain, ch.Seq())
	})
	switch {
	case err != nil && ch == nil:
		if fnErr != nil {
			return fnErr // as fn returned it
		}
		return asKMSError(err) // the transaction did not start
	case err != nil:
		cause = err
		return internal(fmt.Errorf("committing the transaction: %w", err))
	}
	committed = true
	ch.Commit()
	c.op.recorded = true
	if d, ok := store.TxnWritten(tracked); ok {
		// The data directory remembers the store as this change left
		// it: a copy from before is refused from now on (digest.go).
		s.noteDigest(d)
	}
	if len(w.deletedKeys) > 0 || w.deletedCredential {
		// What it deleted is shredded by the next compaction (shred.go).
		s.shredPending.Store(true)
	}
	return nil
}

// maxVoidCause bounds the store error's text in a void record. A store
// error's text is the implementation's (a database driver's: paths, SQL,
// perhaps values): the record says its kind and no more than its start, on
// one line, enough to tell one failure from another.
const maxVoidCause = 256

// storeErrorKind names the kind of err, a failed commit's, for its void.
func storeErrorKind(err error) string {
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return "store unavailable"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrClosed):
		return "store closed"
	case errors.Is(err, store.ErrDamaged):
		return "store damaged"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "internal"
}

// clipLine is s on one line (each run of control characters, newlines
// among them, one space; invalid UTF-8 replaced) and at most limit bytes,
// cut at a character's boundary and ending "..." if cut.
func clipLine(s string, limit int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if b.Len() > limit {
			break // clipped below: the rest is not read
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	line := strings.TrimSpace(b.String())
	if len(line) <= limit {
		return line
	}
	const more = "..."
	cut := limit - len(more)
	for cut > 0 && !utf8.RuneStart(line[cut]) {
		cut--
	}
	return line[:cut] + more
}

// writes are the keys and aliases (alias/NAME) a change's transaction
// wrote, and the keys it deleted: what the cache drops once it ends.
type writes struct {
	ids               []string
	deletedKeys       []string
	deletedCredential bool // a credential's sealed secret to shred (shred.go)
}

// trackedTxn is a change's transaction, noting what it writes.
type trackedTxn struct {
	store.Txn
	w *writes
}

// UnwrapTxn is the transaction t tracks (store.TxnWrapper).
func (t *trackedTxn) UnwrapTxn() store.Txn { return t.Txn }

func (t *trackedTxn) PutKey(k *store.Key) error {
	t.w.ids = append(t.w.ids, k.ID)
	return t.Txn.PutKey(k)
}

func (t *trackedTxn) DeleteKey(id string) error {
	t.w.ids = append(t.w.ids, id)
	t.w.deletedKeys = append(t.w.deletedKeys, id)
	return t.Txn.DeleteKey(id)
}

func (t *trackedTxn) DeleteCredential(accessKeyID string) error {
	t.w.deletedCredential = true
	return t.Txn.DeleteCredential(accessKeyID)
}

func (t *trackedTxn) CreateAlias(a *store.Alias) error {
	t.w.ids = append(t.w.ids, a.Name)
	return t.Txn.CreateAlias(a)
}

func (t *trackedTxn) PutAlias(a *store.Alias) error {
	t.w.ids = append(t.w.ids, a.Name)
	return t.Txn.PutAlias(a)
}

func (t *trackedTxn) DeleteAlias(name string) error {
	t.w.ids = append(t.w.ids, name)
	return t.Txn.DeleteAlias(name)
}

// Call notes: what an operation's record says, on its own Call.

func (c *Call) noteKey(arn string) {
	if c.op != nil {
		c.op.keyARN = arn
	}
}

func (c *Call) noteCredential(accessKeyID string) {
	if c.op != nil {
		c.op.credential = accessKeyID
	}
}

func (c *Call) noteMessage(m string) {
	if c.op != nil {
		c.op.message = m
	}
}

func (c *Call) noteAttestation(a *AttestationSummary) {
	if c.op != nil {
		c.op.attestation = a
	}
}

func (c *Call) noteBypassed(checks []string) {
	if c.op != nil {
		c.op.bypassed = checks
	}
}

// noteAlias records that the request named key id by alias.
func (c *Call) noteAlias(id, alias string) {
	if alias == "" || c.op == nil {
		return
	}
	if c.op.aliases == nil {
		c.op.aliases = map[string]string{}
	}
	c.op.aliases[id] = alias
}

// requestAlias is the alias the request named key id by, "" if none.
func (c *Call) requestAlias(id string) string {
	if c.op == nil {
		return ""
	}
	return c.op.aliases[id]
}

// opName is the name of the operation c is for ("" outside one): the AWS
// KMS name whatever the dialect, as an HPKE info binds it.
func (c *Call) opName() string {
	if c.op == nil {
		return ""
	}
	return c.op.name
}

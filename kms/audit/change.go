package audit

// Change is the record of a state change, durable in the log while its
// transaction commits (the package doc): the caller stores Seq in the same
// transaction, then calls Commit if it committed and Void if not.
type Change struct {
	l   *Log
	seq uint64
}

// Change appends rec, the record of a state change about to commit, marked
// as such, and returns once it is durable. An error means it was not
// written: the caller aborts the change. Rotation and Reopen wait until the
// change is resolved (Commit or Void).
func (l *Log) Change(rec *Record) (*Change, error) {
	rec.Change, rec.Voids, rec.Reinstates = true, 0, 0
	l.mu.Lock()
	l.inflight++
	l.mu.Unlock()
	seq, err := l.submit(rec, &entry{durable: true})
	if err != nil {
		l.resolved()
		return nil, err
	}
	return &Change{l: l, seq: seq}, nil
}

// Seq is the record's sequence number, which the transaction stores.
func (c *Change) Seq() uint64 { return c.seq }

// Commit says the change committed.
func (c *Change) Commit() { c.l.resolved() }

// Void says the change did not commit: it appends rec, the request's
// outcome, as a line voiding the change's record, and returns once it is
// durable. If it cannot be written now (the error says why) it stays pending
// and is written before any later line.
func (c *Change) Void(rec *Record) error {
	rec.Change, rec.Voids, rec.Reinstates = false, c.seq, 0
	e := c.l.line(rec)
	e.keep, e.resolves = true, true
	done := make(chan error, 1)
	e.done = done
	if err := c.l.enqueue(e); err != nil {
		return err
	}
	return <-done
}

func (l *Log) resolved() {
	l.mu.Lock()
	l.inflight--
	l.mu.Unlock()
	l.signal() // a Reopen may be waiting
}

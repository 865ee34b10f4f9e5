// Package audit is attestkms's audit log: one JSON line per key operation
// (kms writes its own, package kms's doc says how), one per authenticated
// request refused before it reached one, one summary per source and interval
// of failed authentications, and the log's own notices. A line names who,
// which key, which operation, what attestation was relied on, and the
// outcome — never key material, plaintext, data keys or shared secrets, and
// never the encryption context's values. The line format is a contract:
// operators and tests grep it (Record's JSON names).
//
// # The chain
//
// Every line carries "seq", its sequence number (1, 2, … across every file
// of the log), and "prev", the hex SHA-256 of the previous line's bytes (its
// JSON, without the newline), so that a line altered, removed, inserted or
// moved breaks the chain where it happened: Verify (attestkms audit verify)
// finds the first such line. The first line of a log is its anchor: it
// carries "anchor", 32 random bytes in hex, and its "prev" is that anchor (or,
// in a file an older attestkms wrote unchained lines to, the SHA-256 of those
// lines, which the chain then covers). The first line of each later file
// carries, as every line, the hash of the line before it: the last line of
// the file before. A log restarted because its files were gone while the store
// had committed changes starts again with an anchor whose seq is not 1, which
// Verify reports.
//
// What the chain cannot show by itself is the loss of the newest lines (a
// truncated tail is a shorter, valid chain). Two things bound it: the store
// keeps the seq of the last state change's record ("audit_change_seq", below),
// so a log that ends before it is broken (Verify with the store's ChangeSeq;
// attestkms audit verify reads it when the server is not running); and
// Verify's Report names the head (the last seq and its hash), which an operator
// can keep elsewhere and compare. Files are not signed: a signing key would
// sit on the host beside the log, readable by whoever can rewrite the log, so
// a signature would stop no one who can truncate it; an anchor kept off the
// host (the head, or the lines shipped to an append-only store) does.
//
// # Writing: group commit
//
// One goroutine writes every line, in the order lines are handed to it: the
// chain's order is the write order. Lines handed over while it writes or
// syncs are written together, with one write and, when any of them needs
// it, one commit that makes them durable (below: the journal), after which
// each waiter is released:
//
//   - Write returns once its line is durable (in the file, or in the
//     journal, fdatasynced): an operation that uses a key or releases a
//     secret answers only then.
//   - Append returns once its line is written, not synced: for reads of
//     public data, which are answered even when their line cannot be written
//     (they are synced with the next batch that needs it, or within a second).
//   - Change is Write for the record of a state change, inside the store's
//     transaction (below).
//   - AuthFailure only counts: failed authentications are summarised, one line
//     per source and interval (10 s), from a bounded table (1024 sources; past
//     it one line counts the rest), so that an unauthenticated client costs no
//     more than a counter. Only the 64 sources that failed most in an
//     interval get a line; the rest are counted on that last line, with how
//     many sources it stands for, so that an interval's summary is bounded
//     in bytes (docs/audit.md) however many addresses a client holds.
//     Throttled likewise counts the requests an authenticated client sent
//     past its access key's budget (the rate limit), one "ThrottledRequests"
//     line per access key and interval.
//
// # A state change and its record commit together
//
// The store (bbolt) and the log (a file) cannot share a transaction, so:
// kms appends the change's record with Change, durably, inside the store's
// write transaction, after the change is made and before it commits; bbolt
// runs one write transaction at a time, so at most one change record is ever
// unresolved. The transaction also stores the record's seq (meta
// "audit_change_seq"). If the record cannot be written, the transaction
// aborts and nothing changes. If the commit then fails, a line voiding that
// seq ("voids") is appended at once; if even that cannot be written, it is
// written before any later line. If the server stops between the record and
// the commit, Open finds the newest change record above the store's
// audit_change_seq and voids it; if the commit failed in a way that still
// reached the disk (the store's seq is a voided record's), Open writes a line
// that reinstates it ("reinstates"). So every change in the store has its
// record, and every change record not voided is a change in the store.
// Rotation and reopening wait while a change record is unresolved, so that
// Open finds it in the newest file.
//
// # Durability: the journal
//
// The log file is appended with write(2), and stays a plain file of JSON
// lines (tail -f, shippers and Verify read it as it is). An fsync of a file
// that grows costs a commit of the filesystem's own journal (its size
// changed); so a batch's lines are made durable instead in a write-ahead
// journal beside it, ".audit.log.journal" for "audit.log" (JournalPath): a
// file of fixed size (4 MiB), written with zeros once and fsynced, so that
// overwriting its pages and fdatasyncing them changes no metadata. Each
// commit writes one record, on a page of its own, holding every byte
// appended to the log since the one before (the lines Append wrote
// included: else a crash that lost them would leave the next durable line
// nothing to follow on), with where they begin in the file, the chain's
// end before them, the epoch and a SHA-256 over it all (journal.go has the
// format).
//
// A checkpoint fsyncs the log, then starts a new epoch, random, on the
// journal's first page, at the file's size: every record before it is then
// obsolete. It comes when a record would not fit, before a rotation renames
// the file and once the new file is made, at a Reopen, at Close, at the
// first commit after Open, and after a record or its sync failed or a
// failed batch was cut off the file, before its waiters learn it failed: so
// that lines cut off are never replayed. A checkpoint whose fsync of the
// log fails fails its batch, as a failed fsync does (the lines are cut off
// and counted, below), and every commit is a checkpoint until one
// succeeds. Once the log's fsync has succeeded the batch has succeeded,
// whatever becomes of the journal. A journal that cannot be written is
// removed, and the file fsynced at each commit, until a checkpoint makes
// one again; one that can be neither written nor removed is left as it is
// (its records are of bytes now durable in the file: replaying them
// changes nothing) and each commit is a checkpoint, which tries again. But
// a journal that may hold a record of lines cut off the file (poisoned)
// must be rewritten or removed before anything is written where they were
// (a replay would write them over the new lines): while it can be neither,
// every batch fails before its write, and nothing reaches the file. A
// record whose sync failed, of lines then cut off, is first zeroed (its
// pages, then the journal's fdatasync: the log's fsync is not needed), so
// that even if the checkpoint after the cut fails, or the cut itself, no
// replay finds it. What is left: if that zeroing fails too and so does
// the checkpoint (the disk failing), a crash before one succeeds may put
// the cut lines back from the journal — lines whose requests were refused,
// never a line missing — as a crash could before the journal (the cut
// itself is not synced).
//
// Open replays it first: the epoch start, then each record of that epoch on
// the next page whose sum holds, that begins where the one before ended,
// and whose bytes are whole lines going on with the chain from there (the
// first record that is not — torn by the crash, of an older epoch, zeros,
// or not the writer's — ends it). They are written back into the file they
// are for: the one whose bytes up to the epoch's offset end with the line
// whose hash the epoch start names (the log file, or a file beside it that
// a logrotate renamed before the server reopened), where that file lacks
// them (shorter, a line cut, zeros), and fsynced. Records for no file here
// (the log replaced or removed while the server was stopped) are not
// replayed, and Open says so in a line. So every line a waiter was told is
// durable is in the file after Open, and only those lines, the chain whole.
// If they cannot be written back (a full disk, an I/O error; the write
// comes before the cut of what follows, so the file loses nothing), Open
// fails and leaves the journal as it is, their only copy: the operator
// frees space or fixes the error and starts again, and that Open replays
// them. An epoch started at the file's first byte (after the first commit of a
// new file failed) is written only over what a crash leaves there: nothing,
// zeros or the same bytes.
//
// # Failures
//
// A batch that cannot be written or synced (a full disk, a file-size limit,
// an I/O error) is cut off the file again (it is truncated back to its last
// good line, so the chain stays whole) and its waiters get the error: kms then
// refuses the operation (nothing changes, no secret leaves). Err reports the
// failure until a batch succeeds; the first batch that does holds, after the
// log's own pending lines, a line saying how many lines could not be written,
// from when to when, and why. Every write attempt (any request, or Probe, which Service.Ready calls)
// tries again, so the log recovers by itself when space returns.
//
// # Opening
//
// Open replays the journal (above), then finds the end of the chain in the
// file's last line; an unfinished
// last line (a write the server did not finish before it stopped: no request
// was answered on it) is cut off and said so. An empty or missing file goes
// on from the newest rotated file beside it (a rotation or a logrotate
// interrupted by a crash). A file of lines from before the chain gets an
// anchor that covers them. Then it resolves the newest change record (above).
//
// # Rotation
//
// With Options.MaxSize, the file is rotated once it reaches that size: it
// is renamed Path.N, N one more than the highest such number (the newest
// rotated file has the highest number; nothing is ever renamed twice), and
// a new file starts with a line naming the file it continues. With MaxSize
// negative an external logrotate may rename the file instead and ask for
// Reopen (attestkms serve does on SIGHUP); the new file starts with a line
// saying so. Verify orders files by their first seq, so either naming
// works, compressed (.gz) rotations included. Do not make the file
// append-only (chattr +a): it could not be rotated, nor a failed write cut
// off it.
package audit

import (
	"time"

	"github.com/attestkms/attestkms/attest"
)

// Record is one line of the audit log. Its fields are in the line in this
// order, the chain's last.
type Record struct {
	Time         time.Time    `json:"time"`
	RequestID    string       `json:"request_id"`
	AccessKeyID  string       `json:"access_key_id,omitempty"`
	Principal    string       `json:"principal,omitempty"`
	SourceIP     string       `json:"source_ip,omitempty"`
	Dialect      string       `json:"dialect"`
	Operation    string       `json:"operation"`
	KeyARN       string       `json:"key_arn,omitempty"`
	SourceKeyARN string       `json:"source_key_arn,omitempty"`
	Attestation  *Attestation `json:"attestation,omitempty"`
	// BypassedChecks names the safety checks a new key policy failed that
	// BypassPolicyLockoutSafetyCheck skipped ("lockout",
	// "attestation-safety"): a break-glass policy change is visible here.
	BypassedChecks []string `json:"bypassed_checks,omitempty"`
	Outcome        string   `json:"outcome"` // "ok" or "error"
	ErrorCode      string   `json:"error_code,omitempty"`
	Message        string   `json:"message,omitempty"`
	// Credential is the access key id a credential operation created,
	// rotated to (the new one) or deleted.
	Credential string `json:"credential,omitempty"`

	// A summary of failed authentications from one source, of throttled
	// requests of one access key, or of writes that failed: how many, the first and the last, the dialects they
	// came through and the error codes they got, with how many each.
	Count    int            `json:"count,omitempty"`
	First    *time.Time     `json:"first,omitempty"`
	Last     *time.Time     `json:"last,omitempty"`
	Dialects []string       `json:"dialects,omitempty"`
	Reasons  map[string]int `json:"reasons,omitempty"`

	// Sources is how many sources the "other" line of failed
	// authentications stands for: those past the table's bound and those
	// past the lines an interval writes (defaultSourceLines).
	Sources int `json:"sources,omitempty"`

	// Change marks the record of a state change, committed with it.
	Change bool `json:"change,omitempty"`
	// Voids is the seq of a change record whose change did not commit.
	Voids uint64 `json:"voids,omitempty"`
	// Reinstates is the seq of a change record voided although its change
	// did commit.
	Reinstates uint64 `json:"reinstates,omitempty"`
	// Anchor is the random start of a chain, in its first line.
	Anchor string `json:"anchor,omitempty"`
	// Seq and Prev chain the line to the one before it; the Log sets them.
	Seq  uint64 `json:"seq,omitempty"`
	Prev string `json:"prev,omitempty"`
}

// Attestation is what a Record says of a Recipient's verified evidence:
// enough to tell which enclave got which secret, nothing secret. attest
// builds it from verified claims ((*attest.Claims).Summary), so that neither
// kms nor this package reads a format's claims.
type Attestation = attest.Summary

// Outcomes.
const (
	OK    = "ok"
	Error = "error"
)

// The log's own lines: their Dialect, RequestID and Operation.
const (
	dialectLog       = "audit"
	opStart          = "StartAuditLog"
	opOpen           = "OpenAuditLog"
	opRotate         = "RotateAuditLog"
	opReopen         = "ReopenAuditLog"
	opRecovered      = "AuditLogRecovered"
	opAuthFailures   = "FailedAuthentications"
	opThrottled      = "ThrottledRequests"
	otherSources     = "other"
	maxSourceLen     = 64 // an IPv6 address with a zone fits
	maxReasons       = 16 // error codes are a dialect's table's: a few
	maxDialects      = 8  // there are three
	defaultInterval  = 10 * time.Second
	defaultSources   = 1024 // ~200 bytes each: a bounded table
	syncEvery        = time.Second
	maxLine          = 1 << 20 // a line longer is not ours: Verify and Open refuse it
	rotatedSuffixNew = ".new"
)

const (
	// defaultSourceLines bounds the failed authentications' lines an
	// interval writes (the table bounds only the memory): 64 lines of at
	// most ~700 bytes and the other line, under 48 KiB per 10 s
	// (docs/audit.md), where 1024 lines wrote ~430 KB.
	defaultSourceLines = 64
	// maxPastSources bounds the hashes kept to count the sources past the
	// table (8 bytes each, ~1 MiB as a map); past it the other line's
	// "sources" is a floor.
	maxPastSources = 1 << 16
)

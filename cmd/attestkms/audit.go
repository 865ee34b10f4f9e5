package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

const auditUsage = `Usage: attestkms audit verify --data-dir DIR [--store postgres://…] [--audit-path FILE] [--from FILE]

Checks the audit log's hash chain (docs/architecture.md, go doc ./kms/audit):
every line's seq follows the one before it and its prev is that line's
SHA-256, through every file of the log — the log (DIR/audit.log unless
--audit-path names it) and its rotated files beside it, attestkms's own
(audit.log.1, audit.log.2, …, newest highest) or logrotate's (audit.log.1.gz,
audit.log-20261123, …), taken in the order of their sequence numbers. The
first line must be the log's anchor; --from FILE starts the check at FILE
instead (the oldest file you kept, here or archived elsewhere), whose first
line's link to older ones is then not checked.

It prints the first line that breaks the chain — its file and line number,
and what is wrong: altered, removed, inserted or reordered — or, when the
chain holds, how many lines it checked and the head: the last line's seq and
SHA-256. Keep the head elsewhere: the chain cannot show by itself that its
newest lines were cut off, and a later check that does not reach the same
seq and hash has lost them. When the server is not running, the check also
reads the store's record of its last change (audit_change_seq): a log that
ends before that record was cut.

Several nodes sharing a PostgreSQL store (serve --store postgres://…) each
keep their own log, one chain per node, in their own data directory, and the
store keeps each node's last change under the node's id (DIR/node.json):
give the node's --data-dir and the same --store to check that node's log
against it, which works while the nodes run. An auditor of the whole
service checks every node's log this way, one run per node: each chain
stands alone, and together they hold every change (each change is recorded
by the node that made it) and every request (each is recorded by the node
that served it).

Exit status: 0 intact; 1 broken; 2 usage (a node's directory without --store);
3 a file cannot be read (or the store, missing or damaged, to compare with).

Examples:
  attestkms audit verify --data-dir /var/lib/attestkms
  attestkms audit verify --audit-path /var/log/attestkms/audit.log --from /archive/audit.log.12
  attestkms audit verify --data-dir /var/lib/attestkms-node --store 'postgres://auditor@db.internal/attestkms?sslmode=verify-full'
`

func runAudit(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("audit needs a subcommand: verify")
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		io.WriteString(stdout, auditUsage)
		return nil
	}
	return usageError("unknown audit subcommand %q: use verify", args[0])
}

func runAuditVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", auditUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "", "the store's `directory`: its audit log and its record of the last change")
	path := fs.String("audit-path", "", "the audit log's `file` (default DIR/audit.log)")
	from := fs.String("from", "", "start the check at this rotated `file` instead of the log's anchor")
	var sf storeFlags
	sf.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	if sf.store != "" && *dataDir == "" {
		return usageError("--store goes with --data-dir: the node whose log to compare with it")
	}
	if *dataDir == "" && *path == "" {
		return usageError("give --data-dir or --audit-path")
	}
	if *dataDir != "" && !sf.shared() {
		if id, ok, _ := kms.NodeID(*dataDir); ok {
			// A flag missing: a usage error (2), not a broken log (1).
			return &exitError{code: 2, err: fmt.Errorf("%s is the data directory of %s, a node of a shared store", *dataDir, id), hint: "give that store's --store postgres://… too"}
		}
	}
	if *path == "" {
		*path = filepath.Join(*dataDir, "audit.log")
	}
	files, err := audit.Files(*path)
	if b := (*audit.Break)(nil); errors.As(err, &b) {
		return brokenAt(stdout, b)
	}
	if err != nil {
		return readError(err)
	}
	opts := audit.VerifyOptions{}
	if *from != "" {
		if files, err = startAt(files, *from); err != nil {
			if b := (*audit.Break)(nil); errors.As(err, &b) {
				return brokenAt(stdout, b)
			}
			return err
		}
		opts.Partial = true
	}
	var notes []string
	chain := ""
	if *dataDir != "" {
		sopts := kms.Options{DataDir: *dataDir}
		if err := sf.apply(&sopts); err != nil {
			return err
		}
		seq, c, err := kms.StoredAuditChangeSeq(sopts)
		switch {
		case errors.Is(err, kms.ErrStoreInUse):
			notes = append(notes, "the store is in use (the server runs): the log is not compared with its last change")
		case errors.Is(err, kms.ErrStoreMissing), errors.Is(err, kms.ErrStoreDamaged):
			// The store cannot be read to compare the log with: 3, as
			// any input that cannot be read; 1 says the log is broken.
			e := storeError(err).(*exitError)
			e.code = 3
			return e
		case err != nil:
			return readError(err)
		default:
			opts.ChangeSeq, chain = seq, c
		}
	}
	if len(files) == 0 {
		if opts.ChangeSeq != 0 {
			// The store has a change its log must hold: the log's lines
			// were removed (an emptied or deleted file), not unreadable.
			b := audit.NoChain(opts.ChangeSeq)
			b.File = *path
			return brokenAt(stdout, b)
		}
		return readError(fmt.Errorf("no audit log at %s", *path))
	}
	rep, err := audit.Verify(files, opts)
	var b *audit.Break
	if errors.As(err, &b) {
		return brokenAt(stdout, b)
	}
	if err != nil {
		return readError(err)
	}
	start := "its anchor"
	if !rep.Anchored {
		start = fmt.Sprintf("seq %d (%s:%d)", rep.First.Seq, rep.First.File, rep.First.Line)
	}
	fmt.Fprintf(stdout, "audit log intact: %d lines in %d files, from %s to seq %d\n", rep.Lines, len(rep.Files), start, rep.Head.Seq)
	for _, f := range rep.Files {
		fmt.Fprintf(stdout, "  %s: seq %d to %d (%d lines)\n", f.Name, f.FirstSeq, f.LastSeq, f.Lines)
	}
	fmt.Fprintf(stdout, "head: seq %d sha256 %s (%s:%d)\n", rep.Head.Seq, rep.HeadHash, rep.Head.File, rep.Head.Line)
	fmt.Fprintf(stdout, "changes: %d recorded, %d of them voided (not committed)\n", rep.Changes, rep.Voided)
	if chain != "" {
		fmt.Fprintf(stdout, "node %s: the log of this node's chain, compared with the store's record of it\n", chain)
	}
	if opts.ChangeSeq != 0 {
		fmt.Fprintf(stdout, "the store's last change is recorded at seq %d\n", opts.ChangeSeq)
	}
	for _, n := range append(notes, rep.Notes...) {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	return nil
}

// brokenAt reports the chain broken at b: exit 1.
func brokenAt(stdout io.Writer, b *audit.Break) error {
	if b.Line == 0 {
		fmt.Fprintf(stdout, "audit log broken at %s: %s\n", b.File, b.Problem)
	} else {
		fmt.Fprintf(stdout, "audit log broken at %s:%d: %s\n", b.File, b.Line, b.Problem)
	}
	return exitStatus(1)
}

// startAt is files from the file from on, from added in chain order if it
// is not among them (a rotated file archived elsewhere).
func startAt(files []string, from string) ([]string, error) {
	fi, err := os.Stat(from)
	if err != nil {
		return nil, readError(err)
	}
	index := func() int {
		for i, f := range files {
			if g, err := os.Stat(f); err == nil && os.SameFile(fi, g) {
				return i
			}
		}
		return -1
	}
	if index() < 0 {
		all, err := audit.Order(append(files, from))
		if b := (*audit.Break)(nil); errors.As(err, &b) {
			return nil, err
		}
		if err != nil {
			return nil, readError(err)
		}
		files = all
	}
	i := index()
	if i < 0 {
		return nil, usageError("--from %s holds no line of the chain", from)
	}
	return files[i:], nil
}

// byteSize is a flag of a size in bytes: a number, with an optional unit
// (KiB, MiB, GiB, TiB; KB, MB, GB, TB; B).
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return errors.New("a size is a number of bytes, with an optional unit: 104857600, 100MiB, 1GiB")
	}
	*b = byteSize(n * mult)
	return nil
}

package kms

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
)

// Backup and restore (docs/backup.md is the format's reference).
//
// A backup is text, one line each: the magic line, a header (JSON), the
// store's meta with its root check, the audit change seq, every key, every
// alias, every credential (each a JSON object of one member naming the
// record's type, the record as the store holds it: key material and
// credential secrets sealed under the root key), and a trailer, "mac " and
// the hex HMAC-SHA-256 of every byte before it under a key derived from the
// root key (sealer.BackupMAC). It never holds the root key, nor any
// plaintext secret. All records are read in one read transaction: a
// consistent snapshot.

// backupMagic is a backup's first line: the format and its version.
const backupMagic = "attestkms-backup 1\n"

// BackupFormat is the format version the magic line names.
const BackupFormat = 1

// MaxBackupSize bounds a backup: what the server builds for the admin API
// and what restore reads (1 GiB; a store of a million keys is far below).
const MaxBackupSize = 1 << 30

// ErrBackupInvalid: a backup that does not verify (a changed byte, a
// truncation, another root key) or does not decode; restore writes nothing.
var ErrBackupInvalid = errors.New("backup does not verify")

// ErrTargetNotEmpty: restore's target directory holds something already.
var ErrTargetNotEmpty = errors.New("restore target is not empty")

// BackupHeader is a backup's second line: what it is of, and when.
type BackupHeader struct {
	Format      int       `json:"format"`
	AccountID   string    `json:"account_id"`
	ProjectID   string    `json:"project_id"`
	Region      string    `json:"region"`
	CreatedAt   time.Time `json:"created_at"`
	Keys        int       `json:"keys"`
	Aliases     int       `json:"aliases"`
	Credentials int       `json:"credentials"`
}

// backupMeta is the store's meta in a backup.
type backupMeta struct {
	AccountID string `json:"account_id"`
	ProjectID string `json:"project_id"`
	Region    string `json:"region,omitempty"`
	RootCheck []byte `json:"root_check"`
	// ServiceKeys is the answer-signing key set, sealed under the root
	// key as in the store (servicekey.go); absent in a backup of a store
	// that had none, whose restore makes one at its first Open.
	ServiceKeys []byte `json:"service_keys,omitempty"`
}

// backupSeq is the store's audit change seq of one chain in a backup.
type backupSeq struct {
	Chain string `json:"chain"`
	Seq   uint64 `json:"seq"`
}

// backupLine is one record line: exactly one member set.
type backupLine struct {
	Meta           *backupMeta       `json:"meta,omitempty"`
	AuditChangeSeq *backupSeq        `json:"audit_change_seq,omitempty"`
	Key            *store.Key        `json:"key,omitempty"`
	Alias          *store.Alias      `json:"alias,omitempty"`
	Credential     *store.Credential `json:"credential,omitempty"`
}

// writeBackup reads every record of r (one snapshot) and writes the backup,
// MACed under sl's backup key, to w. chain is the audit chain whose seq it
// records. It stops with an error once more than limit bytes are written
// (limit <= 0: no limit).
//
// seen is the newest records digest the data directory (its file genFile)
// had seen before r's read began (zero: none): a store whose digest is
// older, or of another history, was put back whole to an older copy, and
// its backup, restored into a new data directory, would make that copy
// genuine (digest.go).
func writeBackup(r store.Reader, sl *sealer.Sealer, chain string, now time.Time, w io.Writer, limit int64, seen seenDigest, genFile string) (*BackupHeader, error) {
	m, err := r.Meta()
	if errors.Is(err, store.ErrRootKey) { // the Authenticated store's refusal
		return nil, ErrRootKeyMismatch
	}
	if err != nil {
		return nil, err
	}
	if err := store.CheckRoot(sl, m); errors.Is(err, sealer.ErrUnavailable) {
		return nil, err
	} else if err != nil {
		return nil, ErrRootKeyMismatch
	}
	// A backup is of records the store's digest sums (digest.go): a
	// restore would bless a record put back or deleted outside attestkms.
	if checkDigest && store.Digested(r) {
		d, err := store.VerifyDigest(r)
		if err != nil {
			return nil, integrityDamage(err)
		}
		if err := checkSeen(d, seen, genFile); err != nil {
			return nil, err
		}
	}
	seq, err := r.AuditChangeSeq(chain)
	if err != nil {
		return nil, err
	}
	var keys []*store.Key
	if err := eachKey(r, func(k *store.Key) error { keys = append(keys, k); return nil }); err != nil {
		return nil, err
	}
	var aliases []*store.Alias
	if err := eachAlias(r, func(a *store.Alias) error { aliases = append(aliases, a); return nil }); err != nil {
		return nil, err
	}
	creds, err := r.Credentials()
	if err != nil {
		return nil, err
	}
	region := m.Region
	if region == "" {
		region = defaultRegion
	}
	h := &BackupHeader{
		Format: BackupFormat, AccountID: m.AccountID, ProjectID: m.ProjectID, Region: region,
		CreatedAt: now.UTC(), Keys: len(keys), Aliases: len(aliases), Credentials: len(creds),
	}
	mac := sl.BackupMAC()
	lw := &limitWriter{w: io.MultiWriter(w, mac), left: limit}
	bw := bufio.NewWriter(lw)
	bw.WriteString(backupMagic)
	line := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		bw.Write(b)
		return bw.WriteByte('\n')
	}
	lines := []any{h, backupLine{Meta: &backupMeta{AccountID: m.AccountID, ProjectID: m.ProjectID, Region: m.Region, RootCheck: m.RootCheck, ServiceKeys: m.ServiceKeys}},
		backupLine{AuditChangeSeq: &backupSeq{Chain: chain, Seq: seq}}}
	for _, v := range lines {
		if err := line(v); err != nil {
			return nil, err
		}
	}
	// Record MACs do not travel: the backup's MAC covers every record
	// (which were verified as they were read), an older attestkms's
	// restore refuses a member it does not know, and Restore MACs every
	// record anew under the root key it restores with.
	for _, k := range keys {
		k.MAC = nil
		if err := line(backupLine{Key: k}); err != nil {
			return nil, err
		}
	}
	for _, a := range aliases {
		a.MAC = nil
		if err := line(backupLine{Alias: a}); err != nil {
			return nil, err
		}
	}
	for _, c := range creds {
		c.MAC = nil
		if err := line(backupLine{Credential: c}); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(w, "mac %x\n", mac.Sum(nil)); err != nil {
		return nil, err
	}
	return h, nil
}

// errTooBig: the backup passed its size bound.
var errTooBig = fmt.Errorf("the backup is larger than %d bytes", MaxBackupSize)

type limitWriter struct {
	w    io.Writer
	left int64 // <= 0 at the start: no limit
	n    int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	l.n += int64(len(p))
	if l.left > 0 && l.n > l.left {
		return 0, errTooBig
	}
	return l.w.Write(p)
}

// BackupRequest is Backup's request: nothing.
type BackupRequest struct{}

// BackupResponse is a backup and its header.
type BackupResponse struct {
	Header *BackupHeader
	Backup []byte
}

// Backup is the admin API's backup of the store while serving: the store's
// records in one read transaction, MACed (docs/backup.md). Only a
// credential with the admin permission may; the answer goes out once its
// audit record is durable.
func (s *Service) Backup(ctx context.Context, c *Call, req *BackupRequest) (*BackupResponse, error) {
	return run(s, ctx, c, "Backup", opUse, req, func(ctx context.Context, c *Call, _ *BackupRequest) (*BackupResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "Backup"); err != nil {
			return nil, err
		}
		s.arrived(c) // a copy of the whole store: no batch waits for its line
		var buf bytes.Buffer
		var h *BackupHeader
		s.rootMu.RLock() // the records and their MAC under one root key
		defer s.rootMu.RUnlock()
		seen, err := s.seenDigest() // before the read: its snapshot is newer
		if err != nil {
			return nil, internal(err)
		}
		err = s.view(ctx, func(r store.Reader) error {
			buf.Reset()
			var err error
			h, err = writeBackup(r, s.sealer, s.chain, s.now(), &buf, MaxBackupSize, seen, filepath.Join(s.opts.DataDir, recordsGenMarker))
			return err
		})
		if errors.Is(err, errTooBig) {
			return nil, errorf(ErrValidation, "%v: back the store up offline, or with pg_dump (docs/backup.md)", err)
		}
		if err != nil {
			return nil, internal(err)
		}
		c.op.message = fmt.Sprintf("backup of %d keys, %d aliases, %d credentials, created %s", h.Keys, h.Aliases, h.Credentials, h.CreatedAt.Format(time.RFC3339))
		return &BackupResponse{Header: h, Backup: buf.Bytes()}, nil
	})
}

// BackupOffline writes a backup of the embedded store opts names (the server
// stopped: ErrStoreInUse while it runs) to w, in one read transaction. A
// shared store (PostgreSQL) is backed up with pg_dump, or through a node's
// admin API.
func BackupOffline(opts Options, w io.Writer) (*BackupHeader, error) {
	sp, err := opts.storeSpec()
	if err != nil {
		return nil, err
	}
	if sp.shared() {
		return nil, errors.New("a shared store (PostgreSQL) is backed up with pg_dump, or through a node's admin API (backup --endpoint): docs/backup.md")
	}
	if opts.DataDir == "" {
		return nil, errors.New("no data directory given")
	}
	if _, err := os.Stat(sp.path); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotInitialised, opts.DataDir)
	}
	sl, err := openRoot(opts)
	if err != nil {
		return nil, err
	}
	defer sl.Close()
	st, err := openReadOnly(sp.path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	var h *BackupHeader
	genFile := filepath.Join(opts.DataDir, recordsGenMarker)
	var seen seenDigest
	if checkDigest {
		if seen, err = readSeen(genFile); err != nil {
			return nil, err
		}
	}
	// Every record verified as it is read (a store made before records
	// were authenticated and not opened since is read as it is).
	err = store.Authenticate(st, sl, nil).View(context.Background(), func(r store.Reader) error {
		h, err = writeBackup(r, sl, "", now(), w, 0, seen, genFile)
		return err
	})
	if errors.Is(err, ErrRootKeyMismatch) || errors.Is(err, store.ErrRootKey) {
		err = fmt.Errorf("%w (%s)", ErrRootKeyMismatch, opts.rootKeyName())
	}
	return h, err
}

// openReadOnly opens the bbolt store at path shared, for reading.
func openReadOnly(path string) (*bolt.Store, error) {
	st, err := bolt.Open(path, bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	switch {
	case errors.Is(err, store.ErrInUse):
		return nil, fmt.Errorf("%w: %s", ErrStoreInUse, path)
	case errors.Is(err, store.ErrNotAStore):
		return nil, fmt.Errorf("%s is not an attestkms store: %w", path, err)
	}
	return st, err
}

// parsedBackup is a backup that verified and decoded.
type parsedBackup struct {
	header      BackupHeader
	meta        backupMeta
	seq         backupSeq
	keys        []*store.Key
	aliases     []*store.Alias
	credentials []*store.Credential
}

// parseBackup verifies b's MAC under sl's backup key, then decodes every
// line exactly and opens every sealed value under sl: ErrBackupInvalid,
// with what failed, if anything does.
func parseBackup(b []byte, sl *sealer.Sealer) (*parsedBackup, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBackupInvalid, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(b, []byte(backupMagic)) {
		if bytes.HasPrefix(b, []byte("attestkms-backup ")) {
			return nil, bad("a backup format this attestkms does not read (it reads %q)", backupMagic[:len(backupMagic)-1])
		}
		return nil, bad("not an attestkms backup")
	}
	// The trailer: "mac " and 64 hex digits, the last line.
	const trailer = len("mac ") + 64 + 1
	if len(b) < len(backupMagic)+trailer || b[len(b)-1] != '\n' {
		return nil, bad("truncated: no trailer")
	}
	body, tr := b[:len(b)-trailer], b[len(b)-trailer:]
	if !bytes.HasPrefix(tr, []byte("mac ")) || (len(body) > 0 && body[len(body)-1] != '\n') {
		return nil, bad("truncated: no trailer")
	}
	want := make([]byte, 32)
	if n, err := hex.Decode(want, tr[4:trailer-1]); err != nil || n != 32 || !bytes.Equal(tr[4:trailer-1], []byte(hex.EncodeToString(want))) {
		return nil, bad("the trailer's MAC is not 64 lower-case hex digits")
	}
	mac := sl.BackupMAC()
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), want) {
		return nil, bad("its MAC does not verify: the backup was changed, or was made under another root key")
	}
	// The MAC verified: the bytes are what a backup wrote. Decode them all
	// the same, exactly, and open every sealed value.
	lines := bytes.Split(body[len(backupMagic):len(body)-1], []byte("\n"))
	if len(lines) < 3 {
		return nil, bad("no header, meta or audit seq")
	}
	p := &parsedBackup{}
	exact := func(i int, v any) error {
		d := json.NewDecoder(bytes.NewReader(lines[i]))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return bad("line %d: %v", i+2, err)
		}
		if d.More() {
			return bad("line %d: more than one value", i+2)
		}
		return nil
	}
	if err := exact(0, &p.header); err != nil {
		return nil, err
	}
	h := &p.header
	if h.Format != BackupFormat {
		return nil, bad("header: format %d, not %d", h.Format, BackupFormat)
	}
	// Each count bounded by the lines first, so that their sum cannot
	// overflow into the number of lines (the MAC verified, but a parser
	// does not trust its input's arithmetic).
	inRange := func(n int) bool { return n >= 0 && n <= len(lines) }
	if !inRange(h.Keys) || !inRange(h.Aliases) || !inRange(h.Credentials) || len(lines) != 3+h.Keys+h.Aliases+h.Credentials {
		return nil, bad("the header counts %d keys, %d aliases, %d credentials; the backup holds %d records", h.Keys, h.Aliases, h.Credentials, len(lines)-3)
	}
	var l backupLine
	if err := exact(1, &l); err != nil {
		return nil, err
	}
	if l.Meta == nil || l.AuditChangeSeq != nil || l.Key != nil || l.Alias != nil || l.Credential != nil {
		return nil, bad("line 3 is not the meta")
	}
	p.meta = *l.Meta
	if p.meta.AccountID != h.AccountID || p.meta.ProjectID != h.ProjectID {
		return nil, bad("the meta's account is not the header's")
	}
	if err := store.CheckRoot(sl, &store.Meta{RootCheck: p.meta.RootCheck}); errors.Is(err, sealer.ErrUnavailable) {
		return nil, err // the token did not answer: nothing is known of the backup
	} else if err != nil {
		return nil, bad("the root key does not open its root check")
	}
	if len(p.meta.ServiceKeys) > 0 {
		if _, err := openServiceKeyRecords(sl, p.meta.ServiceKeys); err != nil {
			return nil, bad("its service keys do not open: %v", err)
		}
	}
	l = backupLine{}
	if err := exact(2, &l); err != nil {
		return nil, err
	}
	if l.AuditChangeSeq == nil || l.Meta != nil || l.Key != nil || l.Alias != nil || l.Credential != nil {
		return nil, bad("line 4 is not the audit change seq")
	}
	p.seq = *l.AuditChangeSeq
	keyIDs := map[string]bool{}
	for i := 3; i < len(lines); i++ {
		l = backupLine{}
		if err := exact(i, &l); err != nil {
			return nil, err
		}
		n := 0
		for _, set := range []bool{l.Meta != nil, l.AuditChangeSeq != nil, l.Key != nil, l.Alias != nil, l.Credential != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, bad("line %d is not one record", i+2)
		}
		switch j := i - 3; {
		case j < h.Keys:
			k := l.Key
			if k == nil {
				return nil, bad("line %d is not a key", i+2)
			}
			if keyIDs[k.ID] || len(k.Materials) == 0 {
				return nil, bad("key %s: repeated, or without material", k.ID)
			}
			keyIDs[k.ID] = true
			for mi := range k.Materials {
				pt, err := store.OpenMaterial(sl, k.ID, &k.Materials[mi])
				if err != nil {
					return nil, bad("key %s: its material version %d does not open under the root key", k.ID, k.Materials[mi].Version)
				}
				clear(pt)
			}
			p.keys = append(p.keys, k)
		case j < h.Keys+h.Aliases:
			if l.Alias == nil {
				return nil, bad("line %d is not an alias", i+2)
			}
			if !keyIDs[l.Alias.KeyID] {
				return nil, bad("alias %s names key %s, which the backup does not hold", l.Alias.Name, l.Alias.KeyID)
			}
			p.aliases = append(p.aliases, l.Alias)
		default:
			if l.Credential == nil {
				return nil, bad("line %d is not a credential", i+2)
			}
			secret, err := store.OpenCredential(sl, l.Credential)
			if err != nil {
				return nil, bad("credential %s: its secret does not open under the root key", l.Credential.AccessKeyID)
			}
			clear(secret)
			p.credentials = append(p.credentials, l.Credential)
		}
	}
	return p, nil
}

// ReadBackupHeader is a backup's header, read without verifying anything:
// for showing what a file is.
func ReadBackupHeader(b []byte) (*BackupHeader, error) {
	if !bytes.HasPrefix(b, []byte(backupMagic)) {
		return nil, fmt.Errorf("%w: not an attestkms backup", ErrBackupInvalid)
	}
	rest := b[len(backupMagic):]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return nil, fmt.Errorf("%w: no header", ErrBackupInvalid)
	}
	var h BackupHeader
	if err := json.Unmarshal(rest[:i], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBackupInvalid, err)
	}
	return &h, nil
}

// RestoreOptions say what Restore restores, and where.
type RestoreOptions struct {
	// DataDir is the new store's directory: absent or empty
	// (ErrTargetNotEmpty otherwise). Required.
	DataDir string
	// RootKeyFile is the root key the backup was made under. Required: the
	// new directory holds none (restore writes no root key).
	RootKeyFile string
	// RootKey is the same as a spec (Options.RootKey), PKCS11PIN its
	// token's PIN.
	RootKey, PKCS11PIN string
	// Source names the backup in the new audit log's first lines.
	Source string
	// Live, if set, is the data directory of the live store, which Restore
	// reads (shared, read-only) to say what the restore brings back.
	Live string
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

// RestoreResult is what Restore did.
type RestoreResult struct {
	Header BackupHeader
	// Resurrected are the keys the backup holds that the live store does
	// not (destroyed after the backup): the restore brings them back.
	Resurrected []string
	// StateDiffers are keys whose state in the backup is not the live one's.
	StateDiffers []StateDiff
	// LiveOnly are keys of the live store the backup does not hold (made
	// after it): the restored store does not have them.
	LiveOnly []string
}

// StateDiff is a key whose state differs between the backup and the live store.
type StateDiff struct {
	KeyID, Backup, Live string
}

// Restore verifies backup (its MAC over every byte, every record decoded,
// every sealed value opened under the root key) and only then writes, into
// the empty directory opts.DataDir, a new embedded store holding exactly its
// records, and a new audit log whose first change record is the restore.
// Nothing is written if anything fails before the store is made.
func Restore(opts RestoreOptions, backup []byte) (*RestoreResult, error) {
	if opts.DataDir == "" {
		return nil, errors.New("no data directory given")
	}
	if opts.RootKeyFile == "" && opts.RootKey == "" {
		return nil, errors.New("no root key given: the backup is verified and opened under the root key it was made under")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := checkEmpty(opts.DataDir); err != nil {
		return nil, err
	}
	sl, err := openRoot(Options{RootKey: opts.RootKey, RootKeyFile: opts.RootKeyFile, PKCS11PIN: opts.PKCS11PIN})
	if err != nil {
		return nil, err
	}
	defer sl.Close()
	p, err := parseBackup(backup, sl)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{Header: p.header}
	if opts.Live != "" {
		if err := compareLive(opts.Live, p, sl, res); err != nil {
			return nil, fmt.Errorf("--live %s: %w", opts.Live, err)
		}
	}
	// Everything verified: now write.
	made := false
	if _, err := os.Stat(opts.DataDir); errors.Is(err, os.ErrNotExist) {
		made = true
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	undo := func() {
		os.Remove(filepath.Join(opts.DataDir, dbFile))
		files, _ := audit.Files(filepath.Join(opts.DataDir, auditFile))
		for _, f := range files {
			os.Remove(f)
		}
		os.Remove(audit.JournalPath(filepath.Join(opts.DataDir, auditFile)))
		if made {
			os.Remove(opts.DataDir)
		}
	}
	log, err := audit.Open(audit.Options{Path: filepath.Join(opts.DataDir, auditFile), Now: now})
	if err != nil {
		undo()
		return nil, err
	}
	h := p.header
	ch, err := log.Change(&audit.Record{
		RequestID: "restore-" + strconv.FormatInt(now().UnixNano(), 36), Dialect: "restore", Operation: "Restore", Outcome: "ok",
		Message: fmt.Sprintf("restored from backup %s of account %s (%s), created %s: %d keys, %d aliases, %d credentials",
			opts.Source, h.AccountID, h.Region, h.CreatedAt.Format(time.RFC3339), h.Keys, h.Aliases, h.Credentials),
	})
	if err != nil {
		log.Close()
		undo()
		return nil, err
	}
	// Every record MACed under the root key (the backup's MAC verified
	// them) and summed in the records digest, and so the root check v3,
	// even of a backup of a store made before records were authenticated.
	check, err := store.SealRootCheck(sl)
	if err != nil {
		log.Close()
		undo()
		return nil, err
	}
	// The records digest is written once, at the end of the one
	// transaction (AuthenticatedCreate): a restore that fails midway
	// leaves no store at all (bolt.Create), never one whose digest sums
	// part of the backup.
	err = bolt.Create(filepath.Join(opts.DataDir, dbFile), store.AuthenticatedCreate(sl, func(tx store.Txn) error {
		m := p.meta
		if err := tx.PutMeta(&store.Meta{AccountID: m.AccountID, ProjectID: m.ProjectID, Region: m.Region, RootCheck: check, ServiceKeys: m.ServiceKeys}); err != nil {
			return err
		}
		for _, k := range p.keys {
			if err := tx.CreateKey(k); err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
		}
		for _, a := range p.aliases {
			if err := tx.CreateAlias(a); err != nil {
				return fmt.Errorf("alias %s: %w", a.Name, err)
			}
		}
		for _, c := range p.credentials {
			if err := tx.CreateCredential(c); err != nil {
				return fmt.Errorf("credential %s: %w", c.AccessKeyID, err)
			}
		}
		return tx.SetAuditChangeSeq("", ch.Seq())
	}))
	if err != nil {
		ch.Void(&audit.Record{RequestID: "restore", Dialect: "restore", Operation: "Restore", Outcome: "error", Message: err.Error()})
		log.Close()
		undo()
		return nil, err
	}
	ch.Commit()
	if err := log.Close(); err != nil {
		return nil, err
	}
	return res, nil
}

// checkEmpty refuses a directory that exists and holds anything.
func checkEmpty(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %s (restore writes only into an empty or new directory)", ErrTargetNotEmpty, dir, ents[0].Name())
	}
	return nil
}

// compareLive reads the keys of the live store in dir (read-only) and
// compares them with the backup's. Its records are verified under sl, the
// root key the backup opens under (the Authenticated store): the report
// decides whether to restore, so a database writer's planted or changed
// key records must not shape it; a live store under another root key is
// refused (restore without --live then).
func compareLive(dir string, p *parsedBackup, sl *sealer.Sealer, res *RestoreResult) error {
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %s", ErrNotInitialised, dir)
	}
	raw, err := openReadOnly(path)
	if err != nil {
		return err
	}
	st := store.Authenticate(raw, sl, nil)
	defer st.Close()
	live := map[string]string{}
	err = st.View(context.Background(), func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		if m.AccountID != p.header.AccountID {
			return fmt.Errorf("the live store is of account %s, the backup of %s", m.AccountID, p.header.AccountID)
		}
		return eachKey(r, func(k *store.Key) error { live[k.ID] = k.State; return nil })
	})
	if err != nil {
		return err
	}
	inBackup := map[string]bool{}
	for _, k := range p.keys {
		inBackup[k.ID] = true
		state, ok := live[k.ID]
		switch {
		case !ok:
			res.Resurrected = append(res.Resurrected, k.ID)
		case state != k.State:
			res.StateDiffers = append(res.StateDiffers, StateDiff{KeyID: k.ID, Backup: k.State, Live: state})
		}
	}
	for id := range live {
		if !inBackup[id] {
			res.LiveOnly = append(res.LiveOnly, id)
		}
	}
	slices.Sort(res.LiveOnly)
	return nil
}

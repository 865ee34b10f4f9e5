package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/attestkms/attestkms/kms"
)

const backupUsage = `Usage:
  attestkms backup --out FILE --data-dir DIR [--root-key-file FILE]
        a backup of the store, while the server is stopped
  attestkms backup --out FILE --endpoint URL --credential ADMIN.json [--region NAME] [--ca-bundle PEM]
        a backup of the running server's store, through its admin API (admin permission)

The backup is a consistent snapshot (one read transaction) of the store's
records as the store holds them: key material and credential secrets sealed
under the root key, never the root key, never a plaintext secret. Its last
line is an HMAC-SHA-256 of every byte before it under a key derived from the
root key, which restore verifies. docs/backup.md describes the format.

A key destroyed after the backup was taken comes back when the backup is
restored: destroy old backups (and keep the root key apart from them).

--out is created (mode 0600); an existing file is refused. A shared store
(PostgreSQL) is backed up with pg_dump (docs/backup.md), or with --endpoint.

Exit status: 0 written; 1 failure (the store is in use: use --endpoint; the
root key does not open the store; the server refused); 2 usage; 3 a file
cannot be read (--credential, --ca-bundle).

Examples:
  attestkms backup --data-dir ./attestkms-data --out kms-$(date +%F).bak
  attestkms backup --endpoint http://127.0.0.1:8080 \
      --credential attestkms-data/admin-credential.json --out kms.bak
`

func runBackup(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", backupUsage, stdout, stderr)
	var f credentialFlags
	out := fs.String("out", "", "write the backup to this `file` (required; created, never overwritten)")
	fs.StringVar(&f.dataDir, "data-dir", "./attestkms-data", "the store's `directory`, while the server is stopped")
	f.root.register(fs)
	f.registerEndpoint(fs, "back up through its admin API")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if *out == "" {
		return usageError("backup needs --out FILE")
	}
	if err := f.check("list", nil); err != nil {
		return err
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("--out %s exists: refusing to overwrite it", *out)
	}
	var (
		data []byte
		h    *kms.BackupHeader
	)
	if f.endpoint != "" {
		var err error
		if data, h, err = remoteBackup(&f); err != nil {
			return err
		}
	} else {
		w := &memWriter{}
		var err error
		opts := kms.Options{DataDir: f.dataDir}
		if err := f.root.apply(&opts); err != nil {
			return err
		}
		h, err = kms.BackupOffline(opts, w)
		if errors.Is(err, kms.ErrStoreInUse) {
			return withHint(err, "while the server runs, back up through it: --endpoint URL --credential ADMIN.json")
		}
		if err != nil {
			return err
		}
		data = w.b
	}
	if err := writeNew(*out, data); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "attestkms: backup of account %s (%s), %s: %d keys, %d aliases, %d credentials written to %s\n",
		h.AccountID, h.Region, h.CreatedAt.Format(time.RFC3339), h.Keys, h.Aliases, h.Credentials, *out)
	return nil
}

type memWriter struct{ b []byte }

func (m *memWriter) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }

// remoteBackup calls the admin API's Backup and checks what it answered is
// a backup (restore verifies it; the client cannot, without the root key).
func remoteBackup(f *credentialFlags) ([]byte, *kms.BackupHeader, error) {
	c, err := newAdminClient(f)
	if err != nil {
		return nil, nil, err
	}
	c.maxAnswer = int64(base64.StdEncoding.EncodedLen(kms.MaxBackupSize)) + 4096
	c.http.Timeout = 10 * time.Minute
	var out struct {
		Backup                     []byte
		CreatedAt                  int64
		Keys, Aliases, Credentials int
	}
	if err := c.call(context.Background(), "Backup", struct{}{}, &out); err != nil {
		return nil, nil, err
	}
	h, err := kms.ReadBackupHeader(out.Backup)
	if err != nil {
		return nil, nil, fmt.Errorf("%s answered Backup with what is not a backup: %w", f.endpoint, err)
	}
	return out.Backup, h, nil
}

// writeNew creates path (0600, refusing an existing file) with data, synced.
func writeNew(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

const restoreUsage = `Usage:
  attestkms restore --in FILE --data-dir NEWDIR --root-key SPEC [--live DIR]

Restore verifies the backup FILE completely before it writes anything: the
MAC over every byte (under a key derived from the root key: a changed byte
anywhere, or another root key, is refused), every record decoded, every
sealed value opened under the root key. It refuses a NEWDIR that exists and
is not empty. Then it makes NEWDIR (0700) with a new store holding exactly
the backup's records (the same account, region, credentials, keys with every
material version, aliases) and a new audit log whose first record is the
restore. It writes no root key: serve the store with the same --root-key SPEC
(--root-key-file FILE is --root-key file:FILE).

A key destroyed after the backup was taken comes back with the restore.
--live DIR reads the live store (its server stopped) and prints, one per
line, before restoring:
  resurrected KEY_ID          the backup holds it, the live store destroyed it
  state KEY_ID BACKUP LIVE    its state differs between the backup and now
  not-in-backup KEY_ID        made after the backup: the restored store lacks it

Exit status: 0 restored; 1 refused or failed (the backup does not verify,
NEWDIR is not empty, the root key is not the backup's); 2 usage; 3 --in
cannot be read.

Example:
  attestkms restore --in kms.bak --data-dir ./attestkms-restored \
      --root-key file:/etc/attestkms/root.key --live ./attestkms-data
`

func runRestore(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", restoreUsage, stdout, stderr)
	in := fs.String("in", "", "the backup `file` (required)")
	dir := fs.String("data-dir", "", "the new store's `directory` (required): absent or empty")
	var root rootKeyFlags
	root.register(fs)
	live := fs.String("live", "", "the live store's data `directory`: list the keys the restore brings back")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *in == "":
		return usageError("restore needs --in FILE")
	case *dir == "":
		return usageError("restore needs --data-dir NEWDIR, an absent or empty directory")
	case !root.given():
		return usageError("restore needs --root-key SPEC (or --root-key-file FILE), the root key the backup was made under (NEWDIR holds none)")
	}
	var ropts kms.Options
	if err := root.apply(&ropts); err != nil {
		return err
	}
	fh, err := os.Open(*in)
	if err != nil {
		return readError(fmt.Errorf("--in: %w", err))
	}
	data, err := io.ReadAll(io.LimitReader(fh, kms.MaxBackupSize+1))
	fh.Close()
	if err != nil {
		return readError(fmt.Errorf("--in: %w", err))
	}
	if len(data) > kms.MaxBackupSize {
		return fmt.Errorf("--in %s is larger than %d bytes: not a backup this attestkms reads", *in, kms.MaxBackupSize)
	}
	res, err := kms.Restore(kms.RestoreOptions{DataDir: *dir, RootKeyFile: ropts.RootKeyFile, RootKey: ropts.RootKey, PKCS11PIN: ropts.PKCS11PIN, Source: *in, Live: *live}, data)
	if errors.Is(err, kms.ErrBackupInvalid) {
		return withHint(err, "nothing was written; is --root-key the root key of the store the backup was made of?")
	}
	if errors.Is(err, kms.ErrStoreInUse) {
		return withHint(err, "--live reads the live store while its server is stopped")
	}
	if err != nil {
		return err
	}
	for _, id := range res.Resurrected {
		fmt.Fprintf(stdout, "resurrected %s\n", id)
	}
	for _, d := range res.StateDiffers {
		fmt.Fprintf(stdout, "state %s %s %s\n", d.KeyID, d.Backup, d.Live)
	}
	for _, id := range res.LiveOnly {
		fmt.Fprintf(stdout, "not-in-backup %s\n", id)
	}
	h := res.Header
	fmt.Fprintf(stderr, "attestkms: restored the backup of account %s (%s), %s: %d keys, %d aliases, %d credentials into %s\n",
		h.AccountID, h.Region, h.CreatedAt.Format(time.RFC3339), h.Keys, h.Aliases, h.Credentials, *dir)
	if len(res.Resurrected) > 0 {
		fmt.Fprintf(stderr, "attestkms: warning: %d keys the live store destroyed are back (listed on stdout)\n", len(res.Resurrected))
	}
	fmt.Fprintf(stderr, "attestkms: serve it with: attestkms serve --data-dir %s %s\n", *dir, root.flag())
	return nil
}

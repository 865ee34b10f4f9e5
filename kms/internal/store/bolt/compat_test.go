package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

const fixtureDir = "testdata/before-store-layer"

// raw is every record of the file at path: bucket → key → value.
func raw(t *testing.T, path string) map[string]map[string][]byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string][]byte{}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			m := map[string][]byte{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error { m[string(k)] = bytes.Clone(v); return nil })
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFormatOfStoreMadeBefore opens the kms.db the code before this package
// made (testdata's README) and reads every record: each decodes to its store
// type and encodes back to the very bytes stored, the meta and the audit
// change seq are as written, every sealed value opens under the root key,
// and a record written back unchanged leaves the file's records as they
// were.
func TestFormatOfStoreMadeBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.db")
	b, err := os.ReadFile(filepath.Join(fixtureDir, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var exp struct {
		AccountID      string `json:"account_id"`
		ProjectID      string `json:"project_id"`
		Region         string `json:"region"`
		AuditChangeSeq uint64 `json:"audit_change_seq"`
		Keys           map[string]any
		Credentials    []struct {
			Info struct {
				AccessKeyID string `json:"access_key_id"`
			}
			Secret string
		}
		Admin struct {
			AccessKeyID string `json:"access_key_id"`
			Secret      string
		}
	}
	if b, err := os.ReadFile(filepath.Join(fixtureDir, "expect.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	rk, err := os.ReadFile(filepath.Join(fixtureDir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rk)))
	if err != nil {
		t.Fatal(err)
	}
	sl, err := sealer.New(root)
	if err != nil {
		t.Fatal(err)
	}
	before := raw(t, path)
	if got := len(before); got != 4 {
		t.Fatalf("%d buckets", got)
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reencodes := func(bucket, k string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, before[bucket][k]) {
			t.Errorf("%s %s encodes as\n%s\nstored as\n%s", bucket, k, b, before[bucket][k])
		}
	}
	secrets := map[string]string{exp.Admin.AccessKeyID: exp.Admin.Secret}
	for _, c := range exp.Credentials {
		secrets[c.Info.AccessKeyID] = c.Secret
	}
	err = s.View(context.Background(), func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		if m.AccountID != exp.AccountID || m.ProjectID != exp.ProjectID || m.Region != exp.Region {
			t.Errorf("meta %+v", m)
		}
		if err := store.CheckRoot(sl, m); err != nil {
			t.Error(err)
		}
		if seq, err := r.AuditChangeSeq(""); err != nil || seq != exp.AuditChangeSeq {
			t.Errorf("audit change seq %d, %v; want %d", seq, err, exp.AuditChangeSeq)
		}
		keys, err := r.Keys("", 100)
		if err != nil {
			return err
		}
		if len(keys) != len(before["keys"]) || len(keys) != 4 {
			t.Errorf("%d keys listed, %d stored", len(keys), len(before["keys"]))
		}
		for _, k := range keys {
			reencodes("keys", k.ID, k)
			for i := range k.Materials {
				pt, err := store.OpenMaterial(sl, k.ID, &k.Materials[i])
				if err != nil {
					t.Errorf("key %s material %d: %v", k.ID, k.Materials[i].Version, err)
				}
				clear(pt)
			}
		}
		if k, err := r.Key(exp.Keys["symmetric"].(string)); err != nil || len(k.Materials) != 2 || len(k.Tags) != 2 || !k.RotationEnabled {
			t.Errorf("the symmetric key: %+v, %v", k, err)
		}
		aliases, err := r.Aliases("", 100)
		if err != nil {
			return err
		}
		if len(aliases) != 2 || len(before["aliases"]) != 2 {
			t.Errorf("aliases %+v", aliases)
		}
		for _, a := range aliases {
			reencodes("aliases", a.Name, a)
			if of, err := r.AliasesOf(a.KeyID); err != nil || len(of) != 1 || of[0].Name != a.Name {
				t.Errorf("aliases of %s: %+v, %v", a.KeyID, of, err)
			}
		}
		creds, err := r.Credentials()
		if err != nil {
			return err
		}
		if len(creds) != 4 || len(secrets) != 4 {
			t.Errorf("%d credentials, %d expected", len(creds), len(secrets))
		}
		for _, c := range creds {
			reencodes("credentials", c.AccessKeyID, c)
			sec, err := store.OpenCredential(sl, c)
			if err != nil || string(sec) != secrets[c.AccessKeyID] {
				t.Errorf("credential %s (%s): its secret does not open as it was: %v", c.AccessKeyID, c.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every record written back as read: the records are as they were (the
	// audit change seq too), and so is every meta value.
	err = s.Update(context.Background(), func(tx store.Txn) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		if err := tx.PutMeta(m); err != nil {
			return err
		}
		seq, err := tx.AuditChangeSeq("")
		if err != nil {
			return err
		}
		if err := tx.SetAuditChangeSeq("", seq); err != nil {
			return err
		}
		keys, err := tx.Keys("", 100)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.PutKey(k); err != nil {
				return err
			}
		}
		aliases, err := tx.Aliases("", 100)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			if err := tx.PutAlias(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := raw(t, path)
	for bucket, m := range before {
		for k, v := range m {
			if !bytes.Equal(after[bucket][k], v) {
				t.Errorf("%s %s rewritten as\n%s\nwas\n%s", bucket, k, after[bucket][k], v)
			}
		}
		if len(after[bucket]) != len(m) {
			t.Errorf("bucket %s has %d records; it had %d", bucket, len(after[bucket]), len(m))
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d buckets; there were %d", len(after), len(before))
	}
}

// TestFixtureSchemaIsCurrent: the fixture is of the schema this code
// writes. A new schema version needs a fixture made by the code before it
// (testdata's README) and a tested path forward from every earlier one.
func TestFixtureSchemaIsCurrent(t *testing.T) {
	recs := raw(t, filepath.Join(fixtureDir, "kms.db"))
	if got := string(recs["meta"]["schema"]); got != schemaVersion {
		t.Fatalf("the fixture is of schema %q, this code writes %q: add a fixture made by the code before, and the migration", got, schemaVersion)
	}
}

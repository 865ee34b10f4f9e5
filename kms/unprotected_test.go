package kms

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestUnprotectedOpenWritesNothing: an Open refused with ErrUnprotected
// writes nothing. It recorded the region first (openRegion ran before the
// v1 check), and with RenameRegion rewrote and MACed every key record with
// a policy: a database writer who put back a v1 root check could have a
// region move MAC a policy it changed (a review found it).
func TestUnprotectedOpenWritesNothing(t *testing.T) {
	for _, rename := range []bool{false, true} {
		dir, f := copyFixture(t)
		if !rename {
			// A store made before regions were recorded (or a database
			// writer who deleted the v1 store's unMACed region): every
			// plain Open records it, then refuses.
			tamperMeta(t, dir, "region", nil)
		}
		region := "us-east-1" // an unrecorded region's
		if rename {
			region = "eu-west-3"
		}
		before, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
		_, err := Open(Options{DataDir: dir, Region: region, RenameRegion: rename, Now: func() time.Time { return f.Now }})
		if !errors.Is(err, ErrUnprotected) {
			t.Fatalf("rename=%v: Open: %v, want ErrUnprotected", rename, err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
		db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		var metaRegion, metaMAC []byte
		macced := 0
		db.View(func(tx *bbolt.Tx) error {
			metaRegion = append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte("region"))...)
			metaMAC = append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte("mac"))...)
			return tx.Bucket([]byte("keys")).ForEach(func(k, v []byte) error {
				if strings.Contains(string(v), `"mac"`) {
					macced++
				}
				return nil
			})
		})
		db.Close()
		t.Logf("rename=%v: region=%q meta mac=%d bytes, key records with a MAC: %d, audit log grew %d bytes: %s",
			rename, metaRegion, len(metaMAC), macced, len(after)-len(before), strings.TrimSpace(string(after[len(before):])))
		wantRegion := "" // deleted above, and not recorded again
		if rename {
			wantRegion = f.Region // not moved
		}
		if string(metaRegion) != wantRegion || len(metaMAC) != 0 || macced != 0 || len(after) != len(before) {
			t.Errorf("rename=%v: an Open refused with ErrUnprotected wrote to the store", rename)
		}
	}
}

package kms

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
)

// storedRegion reads the meta region of the store in dir ("" when absent);
// the store must be closed.
func storedRegion(t *testing.T, dir string) string {
	t.Helper()
	st, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var r string
	err = st.View(bg, func(rd store.Reader) error {
		m, err := rd.Meta()
		if err == nil {
			r = m.Region
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openOrFail(t *testing.T, opts Options) *Service {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// denyGDKPolicy is the default account Allow plus a Deny of GenerateDataKey
// on resource arn.
func denyGDKPolicy(acct, arn string) string {
	return `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"no data keys","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"` + arn + `"}]}`
}

func TestInitRecordsRegion(t *testing.T) {
	for _, region := range []string{"", "eu-west-1"} {
		dir := t.TempDir()
		if _, _, err := Init(Options{DataDir: dir, Region: region}); err != nil {
			t.Fatal(err)
		}
		want := region
		if want == "" {
			want = "us-east-1"
		}
		if got := storedRegion(t, dir); got != want {
			t.Fatalf("Init(Region %q) recorded %q; want %q", region, got, want)
		}
		s := openOrFail(t, Options{DataDir: dir, Region: region})
		md := mustKey(t, s, "", "")
		if s.Region() != want || md.KeyARN != "arn:aws:kms:"+want+":"+s.Account().AccountID+":key/"+md.KeyID {
			t.Fatalf("region %q: Region() = %q, Arn = %s", region, s.Region(), md.KeyARN)
		}
		s.Close()
	}
}

func TestInvalidRegion(t *testing.T) {
	for _, bad := range []string{"US-EAST-1", "us_east_1", "us.east-1", "eu-west-1/x", strings.Repeat("a", 33), " us-east-1"} {
		if ValidRegion(bad) {
			t.Errorf("ValidRegion(%q) = true", bad)
		}
		dir := filepath.Join(t.TempDir(), "data")
		if _, _, err := Init(Options{DataDir: dir, Region: bad}); err == nil || IsInitialised(dir) {
			t.Errorf("Init with region %q: %v", bad, err)
		}
	}
	for _, good := range []string{"us-east-1", "ap-southeast-5", "us-gov-west-1", "cn-north-1", strings.Repeat("a", 32), "local"} {
		if !ValidRegion(good) {
			t.Errorf("ValidRegion(%q) = false", good)
		}
	}
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(Options{DataDir: dir, Region: "Us-East-1"}); err == nil {
		s.Close()
		t.Fatal("Open accepted an invalid region")
	}
}

// TestParseARNOtherRegion: in an eu-west-1 service, the key's us-east-1 ARN
// (what every ARN was before regions were the service's) names nothing.
func TestParseARNOtherRegion(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir, Region: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	s := openOrFail(t, Options{DataDir: dir, Region: "eu-west-1"})
	defer s.Close()
	c := s.testCall()
	md := mustKey(t, s, "", "")
	acct := s.Account().AccountID
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "arn:aws:kms:eu-west-1:" + acct + ":key/" + md.KeyID}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{
		"arn:aws:kms:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws-cn:kms:eu-west-1:" + acct + ":key/" + md.KeyID,
	} {
		_, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: arn})
		wantKind(t, err, ErrNotFound)
	}
}

// TestOpenRegionMismatch: a store is served only for its own region; a
// refused Open changes nothing.
func TestOpenRegionMismatch(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s := openOrFail(t, Options{DataDir: dir})
	md := mustKey(t, s, "", "")
	s.Close()
	before, _ := os.ReadFile(filepath.Join(dir, dbFile))

	_, err := Open(Options{DataDir: dir, Region: "eu-west-1"})
	wantKind(t, err, ErrRegionMismatch)
	var rm *RegionMismatchError
	if !errors.As(err, &rm) || rm.Stored != "us-east-1" || rm.Requested != "eu-west-1" ||
		err.Error() != "the store in "+dir+" is for region us-east-1, not eu-west-1" {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(Kind(err), ErrRegionMismatch) {
		t.Fatal("ErrRegionMismatch is listed as a client-facing kind")
	}
	after, _ := os.ReadFile(filepath.Join(dir, dbFile))
	if !bytes.Equal(before, after) {
		t.Fatal("a refused Open changed the store")
	}
	s = openOrFail(t, Options{DataDir: dir, Region: "us-east-1"})
	defer s.Close()
	if got, err := s.DescribeKey(bg, s.testCall(), &DescribeKeyRequest{KeyID: md.KeyARN}); err != nil || got.KeyARN != md.KeyARN {
		t.Fatalf("DescribeKey after a refused Open: %v %v", got, err)
	}
}

// TestOpenStoreWithoutRegion: a store made before regions were recorded is
// a us-east-1 store, and its first Open records it.
func TestOpenStoreWithoutRegion(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	forgetRegion(t, dir)
	_, err := Open(Options{DataDir: dir, Region: "eu-west-1", ProtectRecords: true})
	wantKind(t, err, ErrRegionMismatch)
	if got := storedRegion(t, dir); got != "" {
		t.Fatalf("a refused Open recorded region %q", got)
	}
	s := openOrFail(t, Options{DataDir: dir, ProtectRecords: true})
	if s.Region() != "us-east-1" {
		t.Fatalf("Region() = %q", s.Region())
	}
	s.Close()
	if got := storedRegion(t, dir); got != "us-east-1" {
		t.Fatalf("recorded region %q; want us-east-1", got)
	}
}

// forgetRegion makes the store in dir look like one made before regions
// were recorded.
func forgetRegion(t *testing.T, dir string) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Update(bg, func(tx store.Txn) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		m.Region = ""
		asLegacy(t, Options{DataDir: dir}, tx, m)
		return tx.PutMeta(m)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRenameRegion: RenameRegion moves the store and the ARNs in its key
// policies, so a Deny written for the key's old ARN still denies under the
// new one.
func TestRenameRegion(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s := openOrFail(t, Options{DataDir: dir})
	c := s.testCall()
	acct := s.Account().AccountID
	md := mustKey(t, s, "", "")
	other := mustKey(t, s, "", "")
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: denyGDKPolicy(acct, md.KeyARN)}); err != nil {
		t.Fatal(err)
	}
	gdk := func(s *Service, id string) error {
		_, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256"})
		return err
	}
	wantKind(t, gdk(s, md.KeyID), ErrAccessDenied)
	s.Close()

	// Renaming to the same region is a no-op.
	s = openOrFail(t, Options{DataDir: dir, RenameRegion: true})
	s.Close()

	s = openOrFail(t, Options{DataDir: dir, Region: "eu-west-1", RenameRegion: true})
	newARN := "arn:aws:kms:eu-west-1:" + acct + ":key/" + md.KeyID
	pol, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID})
	if err != nil || pol.Policy != denyGDKPolicy(acct, newARN) {
		t.Fatalf("policy after the rename: %v\n%s", err, pol)
	}
	wantKind(t, gdk(s, md.KeyID), ErrAccessDenied)
	if err := gdk(s, other.KeyID); err != nil {
		t.Fatalf("a key without a Deny: %v", err)
	}
	if got, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil || got.KeyARN != newARN {
		t.Fatalf("DescribeKey after the rename: %v %v", got, err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyARN})
	wantKind(t, err, ErrNotFound)
	s.Close()

	if got := storedRegion(t, dir); got != "eu-west-1" {
		t.Fatalf("recorded region %q", got)
	}
	// The move is in the audit log, once: the no-op rename wrote nothing.
	log, err := os.ReadFile(filepath.Join(dir, auditFile))
	if err != nil || strings.Count(string(log), `"operation":"RenameRegion"`) != 1 ||
		!strings.Contains(string(log), "moved from region us-east-1 to eu-west-1") {
		t.Fatalf("audit log: %v\n%s", err, log)
	}
	_, err = Open(Options{DataDir: dir})
	wantKind(t, err, ErrRegionMismatch)
	s = openOrFail(t, Options{DataDir: dir, Region: "eu-west-1"})
	s.Close()
}

// TestRenameRegionRefusesEscapedARN: an ARN spelled with JSON escapes is
// one a textual rewrite misses; the rename fails as a whole, naming the key,
// and changes nothing.
func TestRenameRegionRefusesEscapedARN(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	forgetRegion(t, dir) // the rename of an old store records nothing either
	s := openOrFail(t, Options{DataDir: dir, ProtectRecords: true})
	c := s.testCall()
	acct := s.Account().AccountID
	plain := mustKey(t, s, "", "")
	escaped := mustKey(t, s, "", "")
	plainPolicy := denyGDKPolicy(acct, plain.KeyARN)
	escapedPolicy := denyGDKPolicy(acct, strings.ReplaceAll(escaped.KeyARN, ":", `\u003a`))
	for id, pol := range map[string]string{plain.KeyID: plainPolicy, escaped.KeyID: escapedPolicy} {
		if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: id, Policy: pol}); err != nil {
			t.Fatal(err)
		}
	}
	// The escaped Deny is a Deny: the policy decodes escapes.
	_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: escaped.KeyID, KeySpec: "AES_256"})
	wantKind(t, err, ErrAccessDenied)
	s.Close()
	forgetRegion(t, dir)
	before, _ := os.ReadFile(filepath.Join(dir, dbFile))

	_, err = Open(Options{DataDir: dir, Region: "eu-west-1", RenameRegion: true, ProtectRecords: true})
	if err == nil || !strings.Contains(err.Error(), escaped.KeyID) || strings.Contains(err.Error(), plain.KeyID) {
		t.Fatalf("rename with an escaped ARN: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, dbFile))
	if !bytes.Equal(before, after) {
		t.Fatal("a failed rename changed the store")
	}
	s = openOrFail(t, Options{DataDir: dir, ProtectRecords: true})
	defer s.Close()
	for id, want := range map[string]string{plain.KeyID: plainPolicy, escaped.KeyID: escapedPolicy} {
		if got, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: id}); err != nil || got.Policy != want {
			t.Fatalf("policy of %s after a failed rename: %v\n%s", id, err, got)
		}
	}
}

// TestOpenStoredRegion: StoredRegion opens a store in the region it
// records, whatever Region says, and refuses to be combined with a rename.
func TestOpenStoredRegion(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir, Region: "ap-south-2"}); err != nil {
		t.Fatal(err)
	}
	s := openOrFail(t, Options{DataDir: dir, StoredRegion: true})
	if s.Region() != "ap-south-2" {
		t.Fatalf("Region() = %q; want the stored ap-south-2", s.Region())
	}
	s.Close()
	if s, err := Open(Options{DataDir: dir, Region: "eu-west-1", StoredRegion: true, RenameRegion: true}); err == nil {
		s.Close()
		t.Fatal("StoredRegion with RenameRegion accepted")
	}
	if got := storedRegion(t, dir); got != "ap-south-2" {
		t.Fatalf("recorded region %q", got)
	}
}

package kms

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/audit"
)

// fixtureDir is a data directory the code before the store layer
// (kms/internal/store) made, with what it holds (expect.json): its README
// says how it was made.
const fixtureDir = "internal/store/bolt/testdata/before-store-layer"

// fixture is expect.json.
type fixture struct {
	AccountID string `json:"account_id"`
	ProjectID string `json:"project_id"`
	Region    string `json:"region"`
	Admin     struct {
		AccessKeyID string `json:"access_key_id"`
		Secret      string `json:"secret"`
	} `json:"admin"`
	AuditChangeSeq uint64 `json:"audit_change_seq"`
	Blobs          []struct {
		Blob      []byte            `json:"blob"`
		Plaintext string            `json:"plaintext"`
		Context   EncryptionContext `json:"context"`
	} `json:"blobs"`
	Credentials []struct {
		Info   CredentialInfo `json:"info"`
		Secret string         `json:"secret"`
	} `json:"credentials"`
	Deleted     string `json:"deleted_credential"`
	RotatedAway string `json:"rotated_away"`
	ECDH        struct {
		PeerPublicKey []byte `json:"peer_public_key"`
		SharedSecret  []byte `json:"shared_secret"`
		PublicKey     []byte `json:"public_key"`
	} `json:"ecdh"`
	Keys struct {
		Symmetric, EC, Pending, Disabled string
		SymmetricMaterialIDs             []string `json:"symmetric_material_ids"`
	} `json:"keys"`
	Policy string    `json:"policy"`
	Now    time.Time `json:"now"`
}

// copyFixture copies the fixture's data directory to a new one (the root
// key readable by its owner only, as git does not keep modes) and returns
// it with expect.json.
func copyFixture(t *testing.T) (string, *fixture) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"kms.db", "root.key", "audit.log"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return dir, &f
}

// TestOpenStoreMadeBefore opens a data directory the code before the store
// layer made and reads every kind of record it holds through the
// operations: the account and region (meta), the audit change seq, keys of
// each state with their versions of material, tags, policies and rotation
// schedule, aliases (one moved, one deleted), and credentials (plain,
// scoped, admin, rotated, deleted). Then it changes the store and opens it
// again.
func TestOpenStoreMadeBefore(t *testing.T) {
	dir, f := copyFixture(t)
	if seq, _, err := StoredAuditChangeSeq(Options{DataDir: dir}); err != nil || seq != f.AuditChangeSeq {
		t.Fatalf("StoredAuditChangeSeq = %d, %v; want %d", seq, err, f.AuditChangeSeq)
	}
	clk := &clock{t: f.Now}
	opts := Options{DataDir: dir, Now: clk.now, Region: f.Region}
	if _, err := Open(opts); !errors.Is(err, ErrUnprotected) {
		t.Fatalf("the old store opened without ProtectRecords: %v", err)
	}
	opts.ProtectRecords = true
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if a := s.Account(); a.AccountID != f.AccountID || a.ProjectID != f.ProjectID || s.Region() != f.Region {
		t.Fatalf("account %+v, region %s", a, s.Region())
	}

	// Credentials: each authenticates with its secret and scope; the
	// deleted one and the one rotated away do not.
	if sec, p, ok := s.Credentials().Lookup(f.Admin.AccessKeyID); !ok || string(sec) != f.Admin.Secret || p.ARN != "arn:aws:iam::"+f.AccountID+":root" {
		t.Fatalf("the admin credential: %v %+v", ok, p)
	}
	for _, c := range f.Credentials {
		sec, p, ok := s.Credentials().Lookup(c.Info.AccessKeyID)
		if !ok || string(sec) != c.Secret || p.Name != c.Info.Name {
			t.Fatalf("credential %s: %v %+v", c.Info.Name, ok, p)
		}
	}
	for _, id := range []string{f.Deleted, f.RotatedAway} {
		if _, _, ok := s.Credentials().Lookup(id); ok {
			t.Fatalf("credential %s authenticates", id)
		}
	}
	var want []CredentialInfo
	want = append(want, CredentialInfo{})
	for _, c := range f.Credentials {
		want = append(want, c.Info)
	}
	got := s.Admin().ListCredentials()
	if len(got) != len(want) {
		t.Fatalf("credentials %+v", got)
	}
	for _, w := range want[1:] {
		i := slices.IndexFunc(got, func(c CredentialInfo) bool { return c.AccessKeyID == w.AccessKeyID })
		if i < 0 || got[i].Name != w.Name || got[i].Admin != w.Admin || got[i].IdentityPolicy != w.IdentityPolicy ||
			!got[i].CreatedAt.Equal(w.CreatedAt) || (got[i].ExpiresAt == nil) != (w.ExpiresAt == nil) ||
			w.ExpiresAt != nil && !got[i].ExpiresAt.Equal(*w.ExpiresAt) {
			t.Fatalf("credential %s listed as %+v", w.Name, got)
		}
	}
	c := s.adminCall(t)

	// Keys, by state.
	states := map[string]KeyState{f.Keys.Symmetric: Enabled, f.Keys.EC: Enabled, f.Keys.Pending: PendingDeletion, f.Keys.Disabled: Disabled}
	for id, state := range states {
		d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id})
		if err != nil {
			t.Fatal(err)
		}
		if d.KeyState != state || d.KeyARN != "arn:aws:kms:"+f.Region+":"+f.AccountID+":key/"+id {
			t.Fatalf("key %s: %+v", id, d.KeyMetadata)
		}
	}
	l, err := s.ListKeys(bg, c, &ListKeysRequest{})
	if err != nil || len(l.Keys) != 4 {
		t.Fatalf("ListKeys: %+v, %v", l, err)
	}
	if n, err := s.Admin().KeyStates(bg); err != nil || n[Enabled] != 2 || n[Disabled] != 1 || n[PendingDeletion] != 1 {
		t.Fatalf("KeyStates: %v, %v", n, err)
	}
	if p, err := s.Admin().PolicyProblems(bg); err != nil || len(p) != 0 {
		t.Fatalf("PolicyProblems: %v, %v", p, err)
	}

	// Every version of the symmetric key's material opens.
	for i, b := range f.Blobs {
		pt, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: b.Blob, EncryptionContext: b.Context})
		if err != nil || string(pt.Plaintext) != b.Plaintext {
			t.Fatalf("blob %d: %+v, %v", i, pt, err)
		}
	}
	rot, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: f.Keys.Symmetric, AllKeyMaterial: true})
	if err != nil || len(rot.Rotations) != 2 || rot.Rotations[0].KeyMaterialID != f.Keys.SymmetricMaterialIDs[0] ||
		rot.Rotations[1].RotationType != RotationOnDemand || rot.Rotations[1].KeyMaterialState != "CURRENT" {
		t.Fatalf("ListKeyRotations: %+v, %v", rot, err)
	}
	if st, err := s.GetKeyRotationStatus(bg, c, &GetKeyRotationStatusRequest{KeyID: f.Keys.Symmetric}); err != nil ||
		!st.KeyRotationEnabled || st.RotationPeriodInDays != 90 || st.NextRotationDate == nil {
		t.Fatalf("GetKeyRotationStatus: %+v, %v", st, err)
	}
	tags, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: f.Keys.Symmetric})
	if err != nil || !slices.Equal(tags.Tags, []Tag{{"env", "prod"}, {"team", "a"}}) {
		t.Fatalf("tags: %+v, %v", tags, err)
	}

	// The key agreement key: its public key, and the same shared secret.
	pub, err := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: f.Keys.EC})
	if err != nil || !bytes.Equal(pub.PublicKey, f.ECDH.PublicKey) {
		t.Fatalf("GetPublicKey: %v", err)
	}
	ss, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: f.Keys.EC, KeyAgreementAlgorithm: AlgECDH, PublicKey: f.ECDH.PeerPublicKey})
	if err != nil || !bytes.Equal(ss.SharedSecret, f.ECDH.SharedSecret) {
		t.Fatalf("DeriveSharedSecret: %v", err)
	}

	// The custom policy, and the Deny in it.
	pol, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: f.Keys.Disabled})
	if err != nil || pol.Policy != f.Policy {
		t.Fatalf("GetKeyPolicy: %+v, %v", pol, err)
	}
	if _, err := s.EnableKey(bg, c, &EnableKeyRequest{KeyID: f.Keys.Disabled}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, errOf(s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: f.Keys.Disabled, KeySpec: "AES_256"})), ErrAccessDenied)

	// Aliases: one made with its key, one moved, one deleted.
	al, err := s.ListAliases(bg, c, &ListAliasesRequest{})
	if err != nil || len(al.Aliases) != 2 || al.Aliases[0].AliasName != "alias/app" || al.Aliases[0].TargetKeyID != f.Keys.Symmetric ||
		al.Aliases[1].AliasName != "alias/moved" || al.Aliases[1].TargetKeyID != f.Keys.Disabled ||
		!al.Aliases[1].LastUpdatedDate.After(al.Aliases[1].CreationDate) {
		t.Fatalf("ListAliases: %+v, %v", al, err)
	}
	if _, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: "alias/app", Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	// The key pending deletion is destroyed once its date has passed.
	clk.add(8 * 24 * time.Hour)
	wantKind(t, errOf(s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: f.Keys.Pending})), ErrNotFound)

	// Changed, closed and opened again: the audit chain holds with the
	// store's seq, which grew.
	if _, err := s.CreateKey(bg, c, &CreateKeyRequest{Alias: "alias/new"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	seq, _, err := StoredAuditChangeSeq(Options{DataDir: dir})
	if err != nil || seq <= f.AuditChangeSeq {
		t.Fatalf("seq %d, %v after changes; it was %d", seq, err, f.AuditChangeSeq)
	}
	files, err := audit.Files(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(files, audit.VerifyOptions{ChangeSeq: seq}); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	if l, err := s.ListKeys(bg, s.adminCall(t), &ListKeysRequest{}); err != nil || len(l.Keys) != 4 {
		t.Fatalf("after reopening: %+v, %v", l, err)
	}
}

// TestCheckStoreMadeBefore: CheckStore finds the fixture sound, every page
// and every record (the fixture is of the current schema: the bolt
// package's TestFixtureSchemaIsCurrent).
func TestCheckStoreMadeBefore(t *testing.T) {
	dir, _ := copyFixture(t)
	rep, err := CheckStore(t.Context(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pages || rep.Keys < 4 || rep.Materials <= rep.Keys || rep.Aliases == 0 || rep.Credentials < 4 {
		t.Fatalf("CheckStore = %+v", rep)
	}
}

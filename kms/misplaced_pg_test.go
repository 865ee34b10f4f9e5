package kms

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The aliases.key_id column moved, the record (and its MAC) left alone:
// kms:ResourceAliases of the other key now names the alias.
func TestSharedTamperAliasKeyIDColumn(t *testing.T) {
	cl := newCluster(t)
	s := cl.node("a")
	admin := s.testCall()
	ciKey, secretKey := mustKey(t, s, "", ""), mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/ci", TargetKeyID: ciKey.KeyID}); err != nil {
		t.Fatal(err)
	}
	enc, err := s.Encrypt(bg, admin, &EncryptRequest{KeyID: secretKey.KeyID, Plaintext: []byte("the secret")})
	if err != nil {
		t.Fatal(err)
	}
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`})
	ciCall := s.callAs(t, ci.AccessKeyID)
	if _, err := s.Decrypt(bg, ciCall, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob}); err == nil {
		t.Fatal("ci decrypts before the writer")
	}
	ctx := context.Background()
	db, err := pgx.Connect(ctx, cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `UPDATE aliases SET key_id = $1 WHERE name = 'alias/ci'`, secretKey.KeyID); err != nil {
		t.Fatal(err)
	}
	b := cl.node("b")
	out, err := b.Decrypt(bg, b.callAs(t, ci.AccessKeyID), &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	if err == nil {
		t.Errorf("ci decrypted %q under %s after the writer moved alias/ci's key_id column", out.Plaintext, secretKey.KeyID)
	} else {
		t.Logf("refused: %v", err)
	}
	r, err := b.ListAliases(bg, b.testCall(), &ListAliasesRequest{KeyID: secretKey.KeyID})
	t.Logf("ListAliases(secret): %+v %v", r, err)
}

// TestSharedTamperedCredentialBlocksNoDeletion: a credential record a
// database writer changed (refused, left out) does not stop the deletion
// of another credential, nor count as an admin.
func TestSharedTamperedCredentialBlocksNoDeletion(t *testing.T) {
	cl := newCluster(t)
	s := cl.node("a")
	x := mustCredential(t, s, &CreateCredentialRequest{Name: "x"})
	y := mustCredential(t, s, &CreateCredentialRequest{Name: "y"})
	ctx := context.Background()
	db, err := pgx.Connect(ctx, cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `UPDATE credentials SET record = convert_to(replace(convert_from(record, 'UTF8'), '"name":"y"', '"name":"z"'), 'UTF8') WHERE access_key_id = $1`, y.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: x.AccessKeyID}); err != nil {
		t.Fatalf("deleting x beside a tampered y: %v", err)
	}
	// The tampered record itself can be deleted (it could not: its read
	// was refused), unread: the answer names its access key only.
	resp, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: y.AccessKeyID})
	if err != nil {
		t.Fatalf("deleting the tampered y: %v", err)
	}
	if resp.AccessKeyID != y.AccessKeyID || resp.Name != "" {
		t.Fatalf("deleting the tampered y answered %+v", resp.CredentialInfo)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE access_key_id = $1`, y.AccessKeyID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the tampered record is still stored (%d, %v)", n, err)
	}
	if rec := lastRecord(t, s, "DeleteCredential"); rec.Outcome != "ok" || !strings.Contains(rec.Message, "failed its integrity check") || rec.Credential != y.AccessKeyID {
		t.Fatalf("audit record %+v", rec)
	}
	// A credential that was never there is still not found.
	if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: y.AccessKeyID}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting y again: %v", err)
	}
}

package kms

import (
	"context"
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
}

package kms

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestSharedTamperingRefused: a database writer (raw SQL, no root key)
// changes records of a shared store while its nodes run. A running node
// is told of the change (the triggers notify whoever writes), drops what it
// cached, and refuses the record when it reads it again; a node opened
// after refuses it too; every other key and credential serves. A changed
// credential is left out by the running nodes, and a node opening then
// refuses the store. A changed meta stops a running node (it follows the
// store only while its meta verifies) and is refused by a new one at Open.
func TestSharedTamperingRefused(t *testing.T) {
	withoutDigestChecks(t) // what each node refuses on its own; digest_test.go tests the digest
	cl := newCluster(t)
	log := &logBuffer{}
	opts := cl.opts("a")
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	a, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c := a.testCall()
	bound, err := a.CreateKey(bg, c, &CreateKeyRequest{Policy: gateBoundPolicy(a.Account()), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	disabled := mustKey(t, a, "", "").KeyID
	if _, err := a.DisableKey(bg, c, &DisableKeyRequest{KeyID: disabled}); err != nil {
		t.Fatal(err)
	}
	aliased, other, bare := mustKey(t, a, "", "").KeyID, mustKey(t, a, "", "").KeyID, mustKey(t, a, "", "").KeyID
	if _, err := a.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/app", TargetKeyID: aliased}); err != nil {
		t.Fatal(err)
	}
	ops := mustCredential(t, a, &CreateCredentialRequest{Name: "ops"})
	// Warm what the writer will change: the node must not go on serving
	// it from its cache.
	for _, id := range []string{bound.KeyID, "alias/app", other, bare} {
		if err := encryptWith(a, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok := a.Credentials().Lookup(ops.AccessKeyID); !ok {
		t.Fatal("ops does not authenticate")
	}

	ctx := context.Background()
	db, err := pgx.Connect(ctx, cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	setJSON := func(table, idCol, id, field, value string) {
		t.Helper()
		_, err := db.Exec(ctx, `UPDATE `+table+` SET record = convert_to(jsonb_set(convert_from(record, 'UTF8')::jsonb, ARRAY[$2], to_jsonb($3::text))::text, 'UTF8') WHERE `+idCol+` = $1`, id, field, value)
		if err != nil {
			t.Fatal(err)
		}
	}
	openPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principalARN(a.Account(), adminName) + `"},"Action":"kms:*","Resource":"*"}]}`
	changed := time.Now()
	setJSON("keys", "id", bound.KeyID, "policy", openPolicy)
	setJSON("keys", "id", disabled, "state", "Enabled")
	if _, err := db.Exec(ctx, `UPDATE aliases SET key_id = $2, record = convert_to(jsonb_set(convert_from(record, 'UTF8')::jsonb, '{key_id}', to_jsonb($2::text))::text, 'UTF8') WHERE name = $1`, "alias/app", other); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE keys SET record = convert_to((convert_from(record, 'UTF8')::jsonb - 'mac')::text, 'UTF8') WHERE id = $1`, other); err != nil {
		t.Fatal(err)
	}
	b := cl.node("b") // opened after the writer changed keys and an alias
	setJSON("credentials", "access_key_id", ops.AccessKeyID, "name", adminName)
	// A node opened now refuses the store (it serves no credential it
	// cannot trust, as one whose secret does not open); the running ones
	// leave the credential out and serve.
	if _, err := Open(cl.opts("c")); !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), ops.AccessKeyID) {
		t.Fatalf("Open after a credential changed: %v", err)
	}
	for _, s := range []*Service{a, b} {
		s := s
		within(t, changed, 5*time.Second, "the bound key refused", func() bool {
			_, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: bound.KeyID, KeySpec: "AES_256"})
			return errors.Is(err, store.ErrIntegrity)
		})
		for _, id := range []string{disabled, "alias/app", other} {
			if err := encryptWith(s, id); !errors.Is(err, store.ErrIntegrity) || Kind(err) != ErrInternal || !strings.Contains(err.Error(), id) || Message(err) != IntegrityMessage {
				t.Fatalf("%s: %v (a client is told %q); want the integrity refusal naming it, and the client told only that a record failed", id, err, Message(err))
			}
		}
		within(t, changed, 5*time.Second, "the renamed credential refused", func() bool {
			_, _, ok := s.Credentials().Lookup(ops.AccessKeyID)
			return !ok
		})
		if _, p, ok := s.Credentials().Lookup(cl.cred.AccessKeyID); !ok || p.Name != adminName {
			t.Fatal("the admin credential does not authenticate")
		}
		if err := encryptWith(s, bare); err != nil {
			t.Fatalf("an untouched key: %v", err)
		}
	}
	if l := log.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, bound.KeyID) || !strings.Contains(l, ops.AccessKeyID) {
		t.Fatalf("node a's log does not name the refused records:\n%s", l)
	}

	// The meta: a running node stops serving, a new one does not open.
	if _, err := db.Exec(ctx, `UPDATE meta SET region = 'eu-west-1'`); err != nil {
		t.Fatal(err)
	}
	within(t, time.Now(), 5*time.Second, "node a stops serving", func() bool {
		return encryptWith(a, bare) != nil
	})
	o := cl.opts("d")
	o.Region = "eu-west-1"
	if _, err := Open(o); !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), "the meta") {
		t.Fatalf("Open after the meta changed: %v", err)
	}
}

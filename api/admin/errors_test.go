package admin

import (
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/api/internal/awsjson"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// TestErrorTable walks every kms kind and every pipeline kind through the
// table: each has an exception, client errors are 4xx, and only internal
// errors and cancellation are 5xx.
func TestErrorTable(t *testing.T) {
	for _, kind := range kms.Kinds {
		w, ok := awsjson.ErrorTable[kind]
		if !ok || !strings.HasSuffix(w.Code, "Exception") {
			t.Errorf("kind %q maps to %+v", kind, w)
			continue
		}
		if (kind == kms.ErrInternal || kind == kms.ErrCanceled) != (w.Status >= 500) || w.Status < 400 {
			t.Errorf("kind %q has status %d", kind, w.Status)
		}
		got, msg := awsjson.ErrorTable.Wire(&kms.Error{Kind: kind, Msg: "detail"})
		if got != w || kind != kms.ErrInternal && msg != "detail" {
			t.Errorf("Wire(%q) = %v %q", kind, got, msg)
		}
	}
	for _, kind := range pipeline.Kinds {
		w, ok := awsjson.ErrorTable[kind]
		if !ok || !strings.HasSuffix(w.Code, "Exception") || w.Status < 400 || w.Status >= 500 || w.Message == "" {
			t.Errorf("pipeline kind %q maps to %+v", kind, w)
		}
	}
	got, msg := awsjson.ErrorTable.Wire(errors.New("disk on fire: secret=hunter2"))
	if got.Code != "KMSInternalException" || got.Status != 500 || strings.Contains(msg, "hunter2") {
		t.Fatalf("unknown error: %v %q", got, msg)
	}
	// A credential that is not found is a NotFoundException, not internal.
	got, _ = awsjson.ErrorTable.Wire(&kms.Error{Kind: kms.ErrNotFound, Msg: "credential x does not exist", Cause: kms.ErrCredentialNotFound})
	if got.Code != "NotFoundException" {
		t.Fatalf("credential not found: %v", got)
	}
}

// TestOperationsAreKms: every admin operation is one of kms.Service's
// credential operations or its Backup, and the table names no other.
func TestOperationsAreKms(t *testing.T) {
	want := []string{"Backup", "CreateCredential", "DeleteCredential", "ListCredentials", "RotateCredential", "RotateRootKey", "RotateServiceKey"}
	if len(operations) != len(want) {
		t.Fatalf("%d operations, want %v", len(operations), want)
	}
	for _, name := range want {
		if operations[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

package kms

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
)

// stopCtx is a context that is done from its n+1st look at Err on: it stops
// an operation between any two of its checks. (kms looks only at Err; Done
// is Background's, never closed.)
type stopCtx struct {
	context.Context
	left atomic.Int64
}

func doneAfter(n int) *stopCtx {
	c := &stopCtx{Context: context.Background()}
	c.left.Store(int64(n))
	return c
}

func (c *stopCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestEveryOperationStopsWhenCanceled calls every operation of Service with
// a canceled context (and a zero request, which would otherwise be refused
// as invalid): each answers ErrCanceled, before anything else, and nothing.
func TestEveryOperationStopsWhenCanceled(t *testing.T) {
	s, _ := newTestService(t)
	mustKey(t, s, "", "")
	sv := reflect.ValueOf(s)
	for i := 0; i < sv.NumMethod(); i++ {
		name := sv.Type().Method(i).Name
		if servicePlumbing[name] {
			continue
		}
		m := sv.Method(i)
		out := m.Call([]reflect.Value{reflect.ValueOf(canceledCtx()), reflect.ValueOf(s.testCall()), reflect.New(m.Type().In(2).Elem())})
		err, _ := out[1].Interface().(error)
		if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) || !out[0].IsNil() {
			t.Errorf("%s with a canceled context: %v, %v; want ErrCanceled and no answer", name, out[0], err)
		}
	}
	// Administration too, and it changes nothing.
	a := s.Admin()
	creds := a.ListCredentials()
	_, err := a.CreateCredential(canceledCtx(), &CreateCredentialRequest{Name: "late"})
	wantKind(t, err, ErrCanceled)
	wantKind(t, a.DeleteCredential(canceledCtx(), creds[0].AccessKeyID), ErrCanceled)
	_, err = a.RotateCredential(canceledCtx(), creds[0].AccessKeyID)
	wantKind(t, err, ErrCanceled)
	_, err = a.Maintain(canceledCtx())
	wantKind(t, err, ErrCanceled)
	_, err = a.PolicyProblems(canceledCtx())
	wantKind(t, err, ErrCanceled)
	if got := a.ListCredentials(); !reflect.DeepEqual(got, creds) {
		t.Fatalf("credentials changed by canceled calls: %+v; were %+v", got, creds)
	}
}

// TestCreateKeyCanceled: CreateKey stopped at any of its checks creates no
// key; past the last one it creates one. A context done only once the
// operation has started still stops it, before its write.
func TestCreateKeyCanceled(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for n := 0; ; n++ {
		md, err := s.CreateKey(doneAfter(n), c, &CreateKeyRequest{Alias: "alias/late"})
		keys, lerr := s.ListKeys(bg, c, &ListKeysRequest{})
		if lerr != nil {
			t.Fatal(lerr)
		}
		if err == nil {
			if n < 2 || len(keys.Keys) != 1 || keys.Keys[0].KeyID != md.KeyID {
				t.Fatalf("after %d checks: created %+v; the store has %+v", n, md, keys)
			}
			return
		}
		if !errors.Is(err, ErrCanceled) || md != nil {
			t.Fatalf("stopped after %d checks: %v, %+v; want ErrCanceled", n, err, md)
		}
		if len(keys.Keys) != 0 {
			t.Fatalf("stopped after %d checks, yet the store has %+v", n, keys.Keys)
		}
		if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/late"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("stopped after %d checks, yet the alias exists: %v", n, err)
		}
	}
}

// TestGenerateDataKeyCanceledNeverVerifies: a Recipient's evidence is not
// verified for a request whose context is done, whether it was done from
// the start or became done after the operation started.
func TestGenerateDataKeyCanceledNeverVerifies(t *testing.T) {
	e := newEnclave(t, 1)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	// Load the key into the cache, so that no store read separates the
	// operation's first check from the one before verification.
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256"}); err != nil {
		t.Fatal(err)
	}
	req := &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0)}
	for _, n := range []int{0, 1} { // done from the start; done once it started
		calls := v.calls
		resp, err := s.GenerateDataKey(doneAfter(n), c, req)
		if !errors.Is(err, ErrCanceled) || resp != nil {
			t.Fatalf("done after %d checks: %+v, %v; want ErrCanceled", n, resp, err)
		}
		if v.calls != calls {
			t.Fatalf("done after %d checks, yet the evidence was verified", n)
		}
		if r := lastRecord(t, s, "GenerateDataKey"); r.Attestation != nil || r.Outcome != "error" {
			t.Fatalf("done after %d checks, yet the audit record names an attestation: %+v", n, r)
		}
	}
	resp, err := s.GenerateDataKey(bg, c, req)
	if err != nil || resp.CiphertextForRecipient == nil || v.calls != 1 {
		t.Fatalf("with a live context: %v, %d verifications", err, v.calls)
	}
}

// TestChangeKeyCanceled: a key change stopped at any of its checks leaves
// the stored key as it was; past the last one it commits. A context done
// only once the operation has started still stops it, before its write.
func TestChangeKeyCanceled(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	id := mustKey(t, s, "", "").KeyID
	// Cached: no store read separates the first check from the write's.
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	before := storedKey(t, s, id)
	for n := 0; ; n++ {
		resp, err := s.DisableKey(doneAfter(n), c, &DisableKeyRequest{KeyID: id})
		if err == nil {
			d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id})
			if n < 2 || resp.KeyID != id || err != nil || d.KeyState != Disabled {
				t.Fatalf("after %d checks: %+v, %+v, %v", n, resp, d, err)
			}
			return
		}
		if !errors.Is(err, ErrCanceled) || resp != nil {
			t.Fatalf("stopped after %d checks: %v; want ErrCanceled", n, err)
		}
		if !bytes.Equal(storedKey(t, s, id), before) {
			t.Fatalf("stopped after %d checks, yet the key changed", n)
		}
	}
}

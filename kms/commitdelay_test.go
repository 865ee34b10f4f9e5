package kms

import (
	"context"
	"testing"
	"time"
)

// TestExpectedLinesBalance: every key use tells the audit log its line is
// on its way and takes it back however it ends — answered, refused, failed
// before its record, panicking — so that no count is left behind to make
// every later batch wait its commit delay (audit.Log.Expect). Changes and
// reads are not counted.
func TestExpectedLinesBalance(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	sym := mustKey(t, s, "", "")
	expect0 := func(when string) {
		t.Helper()
		if n := s.audit.Expected(); n != 0 {
			t.Fatalf("%s: %d lines still expected", when, n)
		}
	}
	expect0("after CreateKey")
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256"}); err != nil {
		t.Fatal(err)
	}
	expect0("after GenerateDataKey")
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: "alias/none", KeySpec: "AES_256"}); err == nil {
		t.Fatal("GenerateDataKey of an unknown key succeeded")
	}
	expect0("after a refused GenerateDataKey")
	if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: []byte("not a blob")}); err == nil {
		t.Fatal("Decrypt of garbage succeeded")
	}
	expect0("after a refused Decrypt")
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: sym.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: sym.KeyID, Plaintext: []byte("x")}); err == nil {
		t.Fatal("Encrypt under a disabled key succeeded")
	}
	expect0("after Encrypt under a disabled key")
	ctx, cancel := context.WithCancel(bg)
	cancel()
	s.GenerateRandom(ctx, c, &GenerateRandomRequest{NumberOfBytes: 16})
	expect0("after a canceled GenerateRandom")

	// A use that panics: the pipeline recovers it, the count must not leak.
	var seen int64
	func() {
		defer func() { recover() }()
		req := struct{}{}
		run(s, bg, c, "Boom", opUse, &req, func(context.Context, *Call, *struct{}) (*struct{}, error) {
			seen = s.audit.Expected()
			panic("boom")
		})
	}()
	if seen != 1 {
		t.Fatalf("a key use under way was not expected (%d)", seen)
	}
	expect0("after a panicking use")
}

// TestKeyUseDoesNotWaitForItself: a key use hands its line over as no
// longer expected, or the batch holding it would wait, the whole delay, for
// the very line it holds (one use under way is enough to wait).
func TestKeyUseDoesNotWaitForItself(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: dir, AuditCommitDelay: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sym := mustKey(t, s, "", "")
	start := time.Now()
	if _, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("GenerateDataKey took %v: its batch waited for its own line", d)
	}
}

// TestSlowUsesDoNotHoldOthersBatches: the commit delay waits for the lines
// of key uses under way, on the premise that they come within it (an
// attested use is ≈0.5 ms). A use that takes a second (an RSA-4096 data key
// pair is generated per request: ≈0.9 s of CPU here) must hand its count
// back before the slow part, or a client keeping such uses under way makes
// every batch of every other client wait the whole delay for lines that
// cannot come in it (review finding). Here the generation is held until
// another client's GenerateRandom is answered, which must not wait for it.
func TestSlowUsesDoNotHoldOthersBatches(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	const delay = 5 * time.Second
	s, err := Open(Options{DataDir: dir, AuditCommitDelay: delay})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sym := mustKey(t, s, "", "")
	generating, hold := make(chan struct{}), make(chan struct{})
	hook := func() { close(generating); <-hold }
	rsaPairHook.Store(&hook)
	defer rsaPairHook.Store(nil)
	done := make(chan error, 1)
	go func() {
		_, err := s.GenerateDataKeyPairWithoutPlaintext(bg, s.testCall(), &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: sym.KeyID, KeyPairSpec: PairRSA2048})
		done <- err
	}()
	<-generating
	start := time.Now()
	_, err = s.GenerateRandom(bg, s.testCall(), &GenerateRandomRequest{NumberOfBytes: 16})
	took := time.Since(start)
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if took > delay/2 {
		t.Fatalf("GenerateRandom took %v while an RSA key pair was being generated: its batch waited for the pair's line", took.Round(time.Millisecond))
	}
}

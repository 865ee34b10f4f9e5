//go:build pkcs11 && cgo

package p11

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/softhsmtest"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/miekg/pkcs11"
)

// The token the tests use: internal/softhsmtest's (the environment's, or
// a SoftHSM2 token of their own made by scripts/softhsm.sh).
var (
	testURI  *URI
	testPIN  string
	tokenDir string // SoftHSM2's token directory, for the removal test ("" if unknown)
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

func setup(t *testing.T) {
	t.Helper()
	uri, _ := softhsmtest.Token(t)
	if testURI == nil {
		u, err := ParseURI(uri)
		if err != nil {
			t.Fatalf("the test token's URI: %v", err)
		}
		testURI, testPIN, tokenDir = u, softhsmtest.PIN(t), softhsmtest.TokenDir()
	}
}

// newURI is the test token's URI with an object label of the test's own.
func newURI(t *testing.T) *URI {
	setup(t)
	u := *testURI
	u.Object = fmt.Sprintf("test-%s-%s", t.Name(), rand.Text()[:8])
	u.ID = nil
	return &u
}

func generate(t *testing.T) (*Token, *URI) {
	t.Helper()
	u := newURI(t)
	tok, err := Generate(u, testPIN)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok, u
}

func TestGenerateOpen(t *testing.T) {
	g, u := generate(t)
	u.ID = []byte{1, 2, 3}
	if _, err := Open(u, testPIN); !errors.Is(err, ErrNoKey) {
		t.Errorf("Open with another id: %v, want ErrNoKey", err)
	}
	u.ID = nil
	o, err := Open(u, testPIN)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer o.Close()
	dek := bytes.Repeat([]byte{7}, sealer.RootKeySize)
	w, err := g.WrapKey(dek, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.UnwrapKey(w, []byte("aad"))
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("the opened key unwraps %x, %v", got, err)
	}
	if !strings.Contains(o.Describe(), u.Object) || strings.Contains(o.Describe(), testPIN) {
		t.Errorf("Describe: %s", o.Describe())
	}

	u2 := *u
	u2.Object = "no-such-key"
	if _, err := Open(&u2, testPIN); !errors.Is(err, ErrNoKey) {
		t.Errorf("Open of a missing key: %v, want ErrNoKey", err)
	}
}

func TestGenerateWithID(t *testing.T) {
	u := newURI(t)
	u.ID = []byte("id-" + u.Object)
	g, err := Generate(u, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	byID := *u
	byID.Object = ""
	o, err := Open(&byID, testPIN)
	if err != nil {
		t.Fatalf("Open by id: %v", err)
	}
	o.Close()
	again := *u
	again.Object = "other-label"
	if _, err := Generate(&again, testPIN); !errors.Is(err, ErrExists) {
		t.Errorf("Generate with a taken id: %v, want ErrExists", err)
	}
}

func TestGenerateTwice(t *testing.T) {
	_, u := generate(t)
	if _, err := Generate(u, testPIN); !errors.Is(err, ErrExists) {
		t.Fatalf("second Generate: %v, want ErrExists", err)
	}
}

func TestKeyAttributes(t *testing.T) {
	tok, _ := generate(t)
	want := map[uint]bool{
		pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SENSITIVE: true,
		pkcs11.CKA_EXTRACTABLE: false, pkcs11.CKA_ENCRYPT: true, pkcs11.CKA_DECRYPT: true,
		pkcs11.CKA_SIGN: true, pkcs11.CKA_VERIFY: true, pkcs11.CKA_WRAP: false, pkcs11.CKA_UNWRAP: false,
		pkcs11.CKA_ALWAYS_SENSITIVE: true, pkcs11.CKA_NEVER_EXTRACTABLE: true,
	}
	err := tok.do("test", func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
		var q []*pkcs11.Attribute
		for a := range want {
			q = append(q, pkcs11.NewAttribute(a, nil))
		}
		q = append(q, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil))
		attrs, err := ctx.GetAttributeValue(sh, key, q)
		if err != nil {
			return err
		}
		for _, a := range attrs {
			if a.Type == pkcs11.CKA_VALUE_LEN {
				if len(a.Value) == 0 || a.Value[0] != 32 && a.Value[len(a.Value)-1] != 32 {
					t.Errorf("CKA_VALUE_LEN %x, want 32", a.Value)
				}
				continue
			}
			if got := len(a.Value) == 1 && a.Value[0] != 0; got != want[a.Type] {
				t.Errorf("attribute %#x is %v, want %v", a.Type, got, want[a.Type])
			}
		}
		v, err := ctx.GetAttributeValue(sh, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if !isCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
			t.Errorf("reading CKA_VALUE: %v (%d attributes), want CKR_ATTRIBUTE_SENSITIVE", err, len(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWrapUnwrap(t *testing.T) {
	tok, _ := generate(t)
	other, _ := generate(t)
	dek := make([]byte, sealer.RootKeySize)
	rand.Read(dek)
	aad := []byte("attestkms v1 data key\x00material\x00k1")
	w1, err := tok.WrapKey(dek, aad)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := tok.WrapKey(dek, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(w1) != wrappedSize || bytes.Equal(w1[:ivSize], w2[:ivSize]) || bytes.Equal(w1, w2) {
		t.Fatalf("two wraps: %x and %x: want %d bytes each, fresh IVs", w1, w2, wrappedSize)
	}
	got, err := tok.UnwrapKey(w1, aad)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("UnwrapKey: %x, %v", got, err)
	}
	// Without aad too.
	w0, err := tok.WrapKey(dek, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tok.UnwrapKey(w0, nil); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("UnwrapKey without aad: %x, %v", got, err)
	}

	for i := range w1 {
		bad := bytes.Clone(w1)
		bad[i] ^= 0x80
		if _, err := tok.UnwrapKey(bad, aad); err != sealer.ErrOpen {
			t.Fatalf("byte %d changed: %v, want ErrOpen", i, err)
		}
	}
	for name, c := range map[string]struct{ w, aad []byte }{
		"other aad":  {w1, []byte("attestkms v1 data key\x00material\x00k2")},
		"no aad":     {w1, nil},
		"short":      {w1[:len(w1)-1], aad},
		"long":       {append(bytes.Clone(w1), 0), aad},
		"empty":      {nil, aad},
		"aad of w0":  {w0, aad},
		"tag only":   {w1[:ivSize+tagSize], aad},
		"zero bytes": {make([]byte, wrappedSize), aad},
	} {
		if _, err := tok.UnwrapKey(c.w, c.aad); err != sealer.ErrOpen {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
	if _, err := other.UnwrapKey(w1, aad); err != sealer.ErrOpen {
		t.Errorf("another key: %v, want ErrOpen", err)
	}
	// The session is still fine after all those failures.
	if got, err := tok.UnwrapKey(w2, aad); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("UnwrapKey after failures: %x, %v", got, err)
	}
	if _, err := tok.WrapKey(dek[:16], aad); !errors.Is(err, sealer.ErrUnavailable) {
		t.Errorf("WrapKey of 16 bytes: %v", err)
	}
}

func TestDeriveKey(t *testing.T) {
	tok, u := generate(t)
	other, _ := generate(t)
	a1, err := tok.DeriveKey("a")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := tok.DeriveKey("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tok.DeriveKey("b")
	if err != nil {
		t.Fatal(err)
	}
	oa, err := other.DeriveKey("a")
	if err != nil {
		t.Fatal(err)
	}
	if len(a1) != 32 || !bytes.Equal(a1, a2) || bytes.Equal(a1, b) || bytes.Equal(a1, oa) || bytes.Equal(a1[:16], a1[16:]) {
		t.Fatalf("DeriveKey: a %x, a again %x, b %x, another key's a %x", a1, a2, b, oa)
	}
	// The same key opened anew derives the same.
	o, err := Open(u, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if oa1, err := o.DeriveKey("a"); err != nil || !bytes.Equal(oa1, a1) {
		t.Fatalf("after Open: %x, %v", oa1, err)
	}
	if e, err := tok.DeriveKey(""); err != nil || len(e) != 32 {
		t.Fatalf("empty label: %x, %v", e, err)
	}
}

func TestSealer(t *testing.T) {
	tok, _ := generate(t)
	s, err := sealer.NewWrapped(tok)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("material", []byte("k1"), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := s.Open("material", []byte("k1"), sealed); err != nil || string(pt) != "secret" {
		t.Fatalf("Open: %q, %v", pt, err)
	}
	if _, err := s.Open("material", []byte("k2"), sealed); err != sealer.ErrOpen {
		t.Fatalf("Open for another id: %v, want ErrOpen", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKey(make([]byte, 32), nil); !errors.Is(err, sealer.ErrUnavailable) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestWrongPIN(t *testing.T) {
	u := newURI(t)
	g, err := Generate(u, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	// Login is per token and process (PKCS#11): while a session is logged
	// in, C_Login says CKR_USER_ALREADY_LOGGED_IN whatever the PIN. So no
	// other Token is open here.
	g.Close()
	wrong := "not-the-pin-" + rand.Text()[:6]
	_, err = Open(u, wrong)
	if err == nil || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") || !errors.Is(err, sealer.ErrUnavailable) {
		t.Fatalf("Open with a wrong PIN: %v", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatalf("the error holds the PIN: %v", err)
	}
	t.Log(err)
	g, err = Open(u, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	// A Token whose PIN stops working (changed on the token) fails for
	// good after one refused login: no retry loop.
	g.mu.Lock()
	g.pin = wrong
	g.teardown(true)
	g.mu.Unlock()
	_, err1 := g.DeriveKey("x")
	if err1 == nil || !strings.Contains(err1.Error(), "CKR_PIN_INCORRECT") || !errors.Is(err1, sealer.ErrUnavailable) {
		t.Fatalf("after the PIN changed: %v", err1)
	}
	time.Sleep(retryEvery + 100*time.Millisecond)
	g.mu.Lock()
	g.pin = testPIN // even the right one now: the Token does not try again
	g.mu.Unlock()
	if _, err2 := g.DeriveKey("x"); err2 != err1 {
		t.Fatalf("a second call: %v (want the same error, no new login)", err2)
	}
}

func TestConcurrent(t *testing.T) {
	tok, _ := generate(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			dek := bytes.Repeat([]byte{byte(i)}, 32)
			for j := range 20 {
				aad := fmt.Appendf(nil, "%d/%d", i, j)
				w, err := tok.WrapKey(dek, aad)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := tok.UnwrapKey(w, aad)
				if err != nil || !bytes.Equal(got, dek) {
					t.Errorf("unwrap: %x, %v", got, err)
					return
				}
				if _, err := tok.DeriveKey(string(aad)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	tok.mu.Lock()
	n, idle, inUse := tok.open, len(tok.idle), tok.inUse
	tok.mu.Unlock()
	if n < 1 || n > maxSessions || idle != n || inUse != 0 {
		t.Fatalf("sessions: %d open, %d idle, %d in use", n, idle, inUse)
	}
	t.Logf("%d sessions", n)
}

// TestRemovedConcurrent takes the token away and back under calls from
// several goroutines: every call succeeds or fails with ErrUnavailable,
// none hangs, and calls succeed again after.
func TestRemovedConcurrent(t *testing.T) {
	tok, _ := generate(t)
	if tokenDir == "" {
		t.Skip("not a SoftHSM2 token of one directory (SOFTHSM2_CONF): cannot take it away")
	}
	want, err := tok.DeriveKey("d")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var okN, failN int
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := tok.DeriveKey("d")
				mu.Lock()
				switch {
				case err == nil && bytes.Equal(d, want):
					okN++
				case errors.Is(err, sealer.ErrUnavailable):
					failN++
				default:
					t.Errorf("DeriveKey: %x, %v", d, err)
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}
	gone := filepath.Join(filepath.Dir(filepath.Dir(tokenDir)), "removed-"+filepath.Base(tokenDir))
	time.Sleep(300 * time.Millisecond)
	if err := os.Rename(tokenDir, gone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := os.Rename(gone, tokenDir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if d, err := tok.DeriveKey("d"); err != nil || !bytes.Equal(d, want) {
		t.Fatalf("after: %x, %v", d, err)
	}
	t.Logf("%d calls succeeded, %d failed (ErrUnavailable)", okN, failN)
	if failN == 0 {
		t.Error("no call failed while the token was away")
	}
}

// TestTokenRemoved takes SoftHSM2's token away under a running Token by
// moving its directory out of the token directory (SoftHSM2 2.6.1 checks its files on every use:
// the key's handle goes invalid, CKR_OBJECT_HANDLE_INVALID, and the token
// reads as broken, CKR_GENERAL_ERROR, until C_Finalize and C_Initialize),
// then brings it back: the same Token works again after the backoff.
func TestTokenRemoved(t *testing.T) {
	tok, _ := generate(t)
	bystander, _ := generate(t) // another Token on the same module and token
	if tokenDir == "" {
		t.Skip("not a SoftHSM2 token of one directory (SOFTHSM2_CONF): cannot take it away")
	}
	dek := bytes.Repeat([]byte{1}, 32)
	w, err := tok.WrapKey(dek, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	d0, err := tok.DeriveKey("d")
	if err != nil {
		t.Fatal(err)
	}

	// Out of the token directory: SoftHSM2 takes every directory in it
	// for a token, whatever its name.
	gone := filepath.Join(filepath.Dir(filepath.Dir(tokenDir)), "removed-"+filepath.Base(tokenDir))
	if err := os.Rename(tokenDir, gone); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := os.Rename(gone, tokenDir); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()

	_, err = tok.UnwrapKey(w, []byte("x"))
	if !errors.Is(err, sealer.ErrUnavailable) || errors.Is(err, sealer.ErrOpen) {
		t.Fatalf("token removed: UnwrapKey: %v, want ErrUnavailable", err)
	}
	t.Log("removed:", err)
	// The next call tries once to re-establish (and fails); the calls
	// after fail at once, without touching the module.
	_, err = tok.WrapKey(dek, nil)
	if !errors.Is(err, sealer.ErrUnavailable) {
		t.Fatalf("token removed, second call: %v", err)
	}
	t.Log("re-establishing:", err)
	start := time.Now()
	for range 100 {
		if _, err := tok.DeriveKey("d"); !errors.Is(err, sealer.ErrUnavailable) {
			t.Fatalf("token removed: %v", err)
		}
	}
	if el := time.Since(start); el > retryEvery/2 {
		t.Errorf("100 calls in the backoff took %v: they should fail fast", el)
	}
	if _, err := bystander.DeriveKey("d"); !errors.Is(err, sealer.ErrUnavailable) {
		t.Fatalf("token removed, another Token: %v", err)
	}
	// After the backoff, a call tries again (session, login, module
	// restart) and fails: the token is still away.
	time.Sleep(retryEvery + 100*time.Millisecond)
	if _, err := tok.DeriveKey("d"); !errors.Is(err, sealer.ErrUnavailable) {
		t.Fatalf("token still removed, after the backoff: %v", err)
	} else {
		t.Log("still removed:", err)
	}

	restore()
	if _, err := tok.DeriveKey("d"); !errors.Is(err, sealer.ErrUnavailable) {
		t.Logf("restored, within the backoff: %v (fine either way)", err)
	}
	time.Sleep(retryEvery + 100*time.Millisecond)
	got, err := tok.UnwrapKey(w, []byte("x"))
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("token back: UnwrapKey: %x, %v", got, err)
	}
	if d1, err := tok.DeriveKey("d"); err != nil || !bytes.Equal(d1, d0) {
		t.Fatalf("token back: DeriveKey: %s, %v", hex.EncodeToString(d1), err)
	}
	// The other Token on the module recovers as well (at its next try).
	time.Sleep(retryEvery + 100*time.Millisecond)
	if _, err := bystander.DeriveKey("d"); err != nil {
		t.Fatalf("token back, another Token: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	setup(t)
	u := *testURI
	u.ModulePath = "/nonexistent/libpkcs11.so"
	if _, err := Open(&u, testPIN); err == nil || !errors.Is(err, sealer.ErrUnavailable) || !strings.Contains(err.Error(), "does not load") {
		t.Errorf("a module that does not load: %v", err)
	}
	u = *testURI
	u.Token = "no-such-token"
	if _, err := Open(&u, testPIN); err == nil || !errors.Is(err, sealer.ErrUnavailable) || !strings.Contains(err.Error(), "CKR_TOKEN_NOT_PRESENT") {
		t.Errorf("a token not there: %v", err)
	}
	if _, err := Open(nil, testPIN); err == nil {
		t.Error("Open(nil) works")
	}
}

// TestSlotID opens the key by the slot the token is in, and refuses a
// slot-id whose token is not the one named.
func TestSlotID(t *testing.T) {
	tok, u := generate(t)
	var slot uint
	err := tok.do("test", func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, _ pkcs11.ObjectHandle) error {
		info, err := ctx.GetSessionInfo(sh)
		slot = info.SlotID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bySlot := *u
	bySlot.SlotID = &slot
	o, err := Open(&bySlot, testPIN)
	if err != nil {
		t.Fatalf("Open by slot-id %d: %v", slot, err)
	}
	o.Close()
	bySlot.Token = "another-token"
	if _, err := Open(&bySlot, testPIN); !errors.Is(err, sealer.ErrUnavailable) {
		t.Fatalf("slot-id with another token's label: %v", err)
	}
}

// TestOpenRefusesExtractable: a key that can leave the token is no root key.
func TestOpenRefusesExtractable(t *testing.T) {
	tok, u := generate(t)
	label := u.Object + "-extractable"
	err := tok.do("test", func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, _ pkcs11.ObjectHandle) error {
		// A session object (CKA_TOKEN false): visible to every session of
		// this process, gone with them.
		_, err := ctx.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v := *u
	v.Object = label
	if _, err := Open(&v, testPIN); err == nil || !strings.Contains(err.Error(), "extractable") {
		t.Fatalf("Open of an extractable key: %v", err)
	}
}

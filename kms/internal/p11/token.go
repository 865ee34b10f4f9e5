//go:build pkcs11 && cgo

package p11

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/miekg/pkcs11"
)

const (
	ivSize  = 12 // GCM IV, fresh and random per wrap
	tagBits = 128
	tagSize = tagBits / 8
	// wrappedSize is IV || ciphertext || tag of one data key.
	wrappedSize = ivSize + sealer.RootKeySize + tagSize

	// retryEvery bounds how often a Token tries to re-establish its
	// session with a device that failed: calls in between fail at once,
	// so a removed token is not hammered with C_OpenSession and C_Login.
	retryEvery = time.Second

	// maxSessions is how many sessions a Token opens at most: calls run
	// in parallel on as many, and wait for one beyond.
	maxSessions = 4
)

// Token is a root key held in a PKCS#11 token: an AES-256 secret key that
// never leaves it. It implements sealer.KeyWrapper and is safe for
// concurrent use: calls share a few sessions (maxSessions).
type Token struct {
	uri  URI
	pin  string // kept to log in again after the token comes back; never printed
	mod  *module
	desc string

	mu      sync.Mutex
	cond    sync.Cond // on mu: a session came back, or the state changed
	live    bool      // slot, key and idle are valid, in module generation gen
	gen     uint64
	epoch   uint64 // bumped by every teardown: a session of an older epoch is closed when it comes back
	slot    uint
	key     pkcs11.ObjectHandle
	idle    []pkcs11.SessionHandle
	open    int       // sessions of this epoch, idle or in use
	inUse   int       // sessions of any epoch in use by a call (Close waits for them)
	lastTry time.Time // the last attempt to establish the session
	lastErr error     // why the last attempt failed
	fatal   error     // a login the token refused (wrong PIN): never retried
	closed  bool
}

// Open opens the root key u names: it loads the module, finds the token,
// logs in as the user with pin and finds exactly one AES secret key with
// u's object label and/or id. None: an error wrapping ErrNoKey.
func Open(u *URI, pin string) (*Token, error) { return open(u, pin, false) }

// Generate creates the root key u names in the token: AES-256, a token
// object, private, sensitive, not extractable, usable to encrypt, decrypt
// and sign (CMAC) and for nothing else (no wrap, no unwrap), labelled
// u.Object, with u.ID if given. It refuses (ErrExists) if an object with
// that label or id exists already.
func Generate(u *URI, pin string) (*Token, error) { return open(u, pin, true) }

func open(u *URI, pin string, create bool) (*Token, error) {
	if u == nil || u.ModulePath == "" || (u.Object == "" && u.ID == nil) {
		return nil, errors.New("pkcs11: the URI names no module or no key")
	}
	if u.Token == "" && u.Serial == "" && u.SlotID == nil {
		return nil, errors.New("pkcs11: the URI names no token (token, serial or slot-id)")
	}
	if create && u.Object == "" {
		return nil, errors.New("pkcs11: generating a key needs its label (object=)")
	}
	t := &Token{uri: *u, pin: pin}
	t.cond.L = &t.mu
	t.uri.ID = append([]byte(nil), u.ID...)
	if u.ID == nil {
		t.uri.ID = nil
	}
	if u.SlotID != nil {
		s := *u.SlotID
		t.uri.SlotID = &s
	}
	t.desc = t.uri.String()
	m, err := loadModule(u.ModulePath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sealer.ErrUnavailable, err)
	}
	t.mod = m
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastTry = time.Now()
	if err := t.connect(create); err != nil {
		m.release()
		return nil, err
	}
	return t, nil
}

// Describe names the key: its URI, without a PIN.
func (t *Token) Describe() string { return t.desc }

// Close closes the Token's session and, with the module's last Token,
// finalises the module.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.teardown(true)
	for t.inUse > 0 { // calls under way return their sessions (and close them)
		t.cond.Wait()
	}
	t.pin = ""
	t.mod.release()
	return nil
}

// tokenName names the token in errors.
func (t *Token) tokenName() string {
	switch {
	case t.uri.Token != "":
		return t.uri.Token
	case t.uri.Serial != "":
		return "serial " + t.uri.Serial
	default:
		return fmt.Sprintf("in slot %d", *t.uri.SlotID)
	}
}

// unavailable is a device error: ErrUnavailable with the device's reason.
func (t *Token) unavailable(op string, err error) error {
	return fmt.Errorf("%w: pkcs11: token %s: %s: %s", sealer.ErrUnavailable, t.tokenName(), op, ckrName(err))
}

// errPIN marks a login the token refused: the Token fails for good.
type errPIN struct{ error }

func (e errPIN) Unwrap() error { return e.error }

// connect finds the slot, opens a session, logs in and finds (or, with
// create, generates) the key. Under t.mu.
func (t *Token) connect(create bool) error {
	m := t.mod
	m.rw.RLock()
	defer m.rw.RUnlock()
	ctx := m.ctx
	slot, err := t.findSlot(ctx)
	if err != nil {
		return err
	}
	flags := uint(pkcs11.CKF_SERIAL_SESSION)
	if create {
		flags |= pkcs11.CKF_RW_SESSION
	}
	sh, err := ctx.OpenSession(slot, flags)
	if err != nil {
		return t.unavailable("C_OpenSession", err)
	}
	ok := false
	defer func() {
		if !ok {
			ctx.CloseSession(sh)
		}
	}()
	if err := ctx.Login(sh, pkcs11.CKU_USER, t.pin); err != nil && !isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		if isCKR(err, pkcs11.CKR_PIN_INCORRECT) || isCKR(err, pkcs11.CKR_PIN_LOCKED) || isCKR(err, pkcs11.CKR_PIN_EXPIRED) ||
			isCKR(err, pkcs11.CKR_PIN_INVALID) || isCKR(err, pkcs11.CKR_PIN_LEN_RANGE) {
			// Not retried, by this Token or another call: a token locks
			// its user PIN after a few wrong ones.
			return errPIN{fmt.Errorf("%w: pkcs11: token %s: C_Login: %s: the user PIN is refused; not retried (a token locks after a few wrong PINs)",
				sealer.ErrUnavailable, t.tokenName(), ckrName(err))}
		}
		return t.unavailable("C_Login", err)
	}
	if err := t.checkMechanisms(ctx, slot); err != nil {
		return err
	}
	var key pkcs11.ObjectHandle
	if create {
		key, err = t.generate(ctx, sh)
	} else {
		key, err = t.findKey(ctx, sh)
	}
	if err != nil {
		return err
	}
	ok = true
	t.slot, t.key, t.gen, t.live = slot, key, m.gen.Load(), true
	t.idle, t.open = append(t.idle[:0], sh), 1
	return nil
}

// findSlot returns the slot holding the token the URI names. A slot that
// does not answer is skipped; if no slot matches, its error is returned
// (it may be the token, gone bad).
func (t *Token) findSlot(ctx *pkcs11.Ctx) (uint, error) {
	var slots []uint
	if t.uri.SlotID != nil {
		slots = []uint{*t.uri.SlotID}
	} else {
		var err error
		slots, err = ctx.GetSlotList(true)
		if err != nil {
			return 0, t.unavailable("C_GetSlotList", err)
		}
	}
	var found []uint
	var slotErr error
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil {
			slotErr = t.unavailable("C_GetTokenInfo", err)
			continue
		}
		if t.matches(ti) {
			found = append(found, s)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return 0, fmt.Errorf("%w: pkcs11: %d tokens match %s: name one by serial or slot-id", sealer.ErrUnavailable, len(found), t.tokenName())
	case slotErr != nil:
		return 0, slotErr
	default:
		return 0, fmt.Errorf("%w: pkcs11: token %s: not present (CKR_TOKEN_NOT_PRESENT)", sealer.ErrUnavailable, t.tokenName())
	}
}

func (t *Token) matches(ti pkcs11.TokenInfo) bool {
	eq := func(want, got string) bool {
		return want == "" || want == strings.TrimRight(got, " \x00")
	}
	return eq(t.uri.Token, ti.Label) && eq(t.uri.Serial, ti.SerialNumber) &&
		eq(t.uri.Manufacturer, ti.ManufacturerID) && eq(t.uri.Model, ti.Model)
}

// checkMechanisms makes sure the token does AES-GCM and AES-CMAC, which
// wrapping and DeriveKey need: a clear error now rather than an odd one at
// the first sealed value.
func (t *Token) checkMechanisms(ctx *pkcs11.Ctx, slot uint) error {
	ms, err := ctx.GetMechanismList(slot)
	if err != nil {
		return t.unavailable("C_GetMechanismList", err)
	}
	var gcm, cmac bool
	for _, m := range ms {
		switch m.Mechanism {
		case pkcs11.CKM_AES_GCM:
			gcm = true
		case pkcs11.CKM_AES_CMAC:
			cmac = true
		}
	}
	if !gcm || !cmac {
		return fmt.Errorf("%w: pkcs11: token %s does not offer CKM_AES_GCM and CKM_AES_CMAC, which the root key needs", sealer.ErrUnavailable, t.tokenName())
	}
	return nil
}

func (t *Token) keyTemplate() []*pkcs11.Attribute {
	a := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
	}
	if t.uri.Object != "" {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, t.uri.Object))
	}
	if t.uri.ID != nil {
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_ID, t.uri.ID))
	}
	return a
}

func (t *Token) find(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
		return nil, t.unavailable("C_FindObjectsInit", err)
	}
	hs, _, err := ctx.FindObjects(sh, 16)
	ctx.FindObjectsFinal(sh)
	if err != nil {
		return nil, t.unavailable("C_FindObjects", err)
	}
	return hs, nil
}

// findKey finds exactly one AES secret key matching the URI and checks
// that it cannot leave the token.
func (t *Token) findKey(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) (pkcs11.ObjectHandle, error) {
	hs, err := t.find(ctx, sh, t.keyTemplate())
	if err != nil {
		return 0, err
	}
	switch {
	case len(hs) == 0:
		return 0, fmt.Errorf("%w: %s: no AES secret key with this label/id on the token", ErrNoKey, t.desc)
	case len(hs) > 1:
		return 0, fmt.Errorf("pkcs11: %s: %d AES secret keys match: the URI must name one (give id as well)", t.desc, len(hs))
	}
	attrs, err := ctx.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
	})
	if err != nil {
		return 0, t.unavailable("C_GetAttributeValue", err)
	}
	for _, a := range attrs {
		v := len(a.Value) == 1 && a.Value[0] != 0
		if (a.Type == pkcs11.CKA_SENSITIVE && !v) || (a.Type == pkcs11.CKA_EXTRACTABLE && v) {
			return 0, fmt.Errorf("pkcs11: %s: the key is extractable or not sensitive: a root key must never leave its token (make it with Generate)", t.desc)
		}
	}
	return hs[0], nil
}

// generate creates the key in the token, refusing if an object with its
// label or id exists.
func (t *Token) generate(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) (pkcs11.ObjectHandle, error) {
	for _, a := range []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, t.uri.Object),
		pkcs11.NewAttribute(pkcs11.CKA_ID, t.uri.ID),
	} {
		if a.Type == pkcs11.CKA_ID && t.uri.ID == nil {
			continue
		}
		hs, err := t.find(ctx, sh, []*pkcs11.Attribute{a})
		if err != nil {
			return 0, err
		}
		if len(hs) > 0 {
			return 0, fmt.Errorf("%w: %s: an object with this label or id is on the token", ErrExists, t.desc)
		}
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, sealer.RootKeySize),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, t.uri.Object),
	}
	if t.uri.ID != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, t.uri.ID))
	}
	k, err := ctx.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
	if err != nil {
		return 0, t.unavailable("C_GenerateKey", err)
	}
	return k, nil
}

// teardown drops the sessions: the idle ones are closed (if closeThem
// and they still exist), those in use are closed when they come back.
// Under t.mu.
func (t *Token) teardown(closeThem bool) {
	if !t.live {
		return
	}
	t.live = false
	t.epoch++
	for _, sh := range t.idle {
		if closeThem {
			t.closeSession(sh, t.gen)
		}
	}
	t.idle, t.open = t.idle[:0], 0
	t.cond.Broadcast()
}

// closeSession closes sh, opened in module generation gen, unless the
// module restarted since (the session is gone). A failure is the device's:
// nothing to do about it.
func (t *Token) closeSession(sh pkcs11.SessionHandle, gen uint64) {
	t.mod.rw.RLock()
	if gen == t.mod.gen.Load() {
		t.mod.ctx.CloseSession(sh)
	}
	t.mod.rw.RUnlock()
}

// reestablish tears down what is left and connects again; if that fails
// on the device's word, it restarts the module (C_Finalize, C_Initialize:
// SoftHSM2 keeps a token that went away invalid until then) and tries
// once more. Under t.mu.
func (t *Token) reestablish() error {
	t.teardown(true)
	err := t.connect(false)
	if err == nil {
		return nil
	}
	var pinErr errPIN
	if errors.As(err, &pinErr) {
		return err
	}
	if rerr := t.mod.reinit(); rerr != nil {
		return fmt.Errorf("%w: %v", sealer.ErrUnavailable, rerr)
	}
	return t.connect(false)
}

// errOpen is what an operation returns for "does not open": do passes it
// on and keeps the session.
var errOpen = sealer.ErrOpen

// lease is a session lent to one call.
type lease struct {
	sh         pkcs11.SessionHandle
	key        pkcs11.ObjectHandle
	gen, epoch uint64
}

// acquire lends a session: an idle one, a new one (up to maxSessions), or
// the next to come back. It establishes the Token's sessions first if
// needed, at most once per retryEvery. Under t.mu.
func (t *Token) acquire() (lease, error) {
	for {
		if t.closed {
			return lease{}, fmt.Errorf("%w: %s: closed", sealer.ErrUnavailable, t.desc)
		}
		if t.fatal != nil {
			return lease{}, t.fatal
		}
		if t.live && t.gen != t.mod.gen.Load() {
			// Another Token restarted the module: these sessions are gone,
			// through no fault of the device. Establish new ones now.
			t.teardown(false)
			t.lastErr = nil
		}
		if !t.live {
			if since := time.Since(t.lastTry); since < retryEvery && t.lastErr != nil {
				return lease{}, fmt.Errorf("%w (the session was last established or tried %v ago: at most once every %v)", t.lastErr, since.Round(time.Millisecond), retryEvery)
			}
			t.lastTry = time.Now()
			if err := t.reestablish(); err != nil {
				var pinErr errPIN
				if errors.As(err, &pinErr) {
					t.fatal = pinErr.error
					t.cond.Broadcast()
					return lease{}, t.fatal
				}
				if !errors.Is(err, sealer.ErrUnavailable) {
					err = fmt.Errorf("%w: %v", sealer.ErrUnavailable, err)
				}
				t.lastErr = err
				t.cond.Broadcast()
				return lease{}, err
			}
			t.lastErr = nil
		}
		l := lease{key: t.key, gen: t.gen, epoch: t.epoch}
		if n := len(t.idle); n > 0 {
			l.sh = t.idle[n-1]
			t.idle = t.idle[:n-1]
			t.inUse++
			return l, nil
		}
		if t.open < maxSessions {
			t.mod.rw.RLock()
			sh, err := t.mod.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
			t.mod.rw.RUnlock()
			if err != nil {
				err = t.unavailable("C_OpenSession", err)
				t.teardown(true)
				t.lastErr = err
				return lease{}, err
			}
			// A new session of a logged-in application is logged in.
			t.open++
			t.inUse++
			l.sh = sh
			return l, nil
		}
		t.cond.Wait()
	}
}

// giveBack returns a session after a call: to the idle ones if its epoch
// is current and it worked, else it is closed. Under t.mu.
func (t *Token) giveBack(l lease, ok bool) {
	t.inUse--
	switch {
	case l.epoch != t.epoch:
		t.closeSession(l.sh, l.gen)
	case ok:
		t.idle = append(t.idle, l.sh)
	default:
		t.closeSession(l.sh, l.gen)
		t.open--
	}
	t.cond.Broadcast()
}

// do runs op on a session of the Token's, establishing them first if
// needed (at most once per retryEvery). An error of op other than errOpen
// tears every session down: the next call establishes new ones. Every
// error but errOpen wraps sealer.ErrUnavailable.
func (t *Token) do(name string, op func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error) error {
	m := t.mod
	for range 2 {
		t.mu.Lock()
		l, err := t.acquire()
		t.mu.Unlock()
		if err != nil {
			return err
		}
		m.rw.RLock()
		if l.gen != m.gen.Load() {
			// The module restarted since acquire: the session is gone.
			m.rw.RUnlock()
			t.mu.Lock()
			t.giveBack(l, false)
			if l.epoch == t.epoch {
				t.teardown(false)
				t.lastErr = nil
			}
			t.mu.Unlock()
			continue
		}
		err = op(m.ctx, l.sh, l.key)
		m.rw.RUnlock()
		ok := err == nil || errors.Is(err, errOpen)
		t.mu.Lock()
		t.giveBack(l, ok)
		if !ok && l.epoch == t.epoch {
			t.teardown(true)
		}
		if !ok {
			if !errors.Is(err, sealer.ErrUnavailable) {
				err = t.unavailable(name, err)
			}
			t.lastErr = err
		}
		t.mu.Unlock()
		switch {
		case err == nil:
			return nil
		case ok:
			return sealer.ErrOpen
		}
		return err
	}
	return fmt.Errorf("%w: pkcs11: token %s: the module restarted twice during one call", sealer.ErrUnavailable, t.tokenName())
}

func gcm(iv, aad []byte) (*pkcs11.GCMParams, []*pkcs11.Mechanism) {
	p := pkcs11.NewGCMParams(iv, aad, tagBits)
	return p, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, p)}
}

// WrapKey encrypts dek (sealer.RootKeySize bytes) with AES-256-GCM in the
// token under a fresh random IV, bound to aad: IV || ciphertext || tag.
func (t *Token) WrapKey(dek, aad []byte) ([]byte, error) {
	if len(dek) != sealer.RootKeySize {
		return nil, fmt.Errorf("%w: pkcs11: a data key of %d bytes, want %d", sealer.ErrUnavailable, len(dek), sealer.RootKeySize)
	}
	var out []byte
	err := t.do("C_Encrypt (AES-GCM)", func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
		iv := make([]byte, ivSize)
		rand.Read(iv)
		p, mech := gcm(iv, aad)
		defer p.Free()
		if err := ctx.EncryptInit(sh, mech, key); err != nil {
			return err
		}
		ct, err := ctx.Encrypt(sh, dek)
		if err != nil {
			return err
		}
		// Some modules choose the IV themselves and write it back.
		if got := p.IV(); len(got) == ivSize {
			iv = got
		} else {
			return fmt.Errorf("%w: pkcs11: token %s: AES-GCM IV of %d bytes", sealer.ErrUnavailable, t.tokenName(), len(got))
		}
		if len(ct) != len(dek)+tagSize {
			return fmt.Errorf("%w: pkcs11: token %s: AES-GCM gave %d bytes for %d", sealer.ErrUnavailable, t.tokenName(), len(ct), len(dek))
		}
		out = append(iv, ct...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// openCKR are the device's answers for a ciphertext that does not open.
func openCKR(err error) bool {
	for _, rv := range []uint{
		pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE,
		pkcs11.CKR_DATA_INVALID, pkcs11.CKR_DATA_LEN_RANGE,
		0x35, // CKR_AEAD_DECRYPT_FAILED (PKCS#11 3.0)
	} {
		if isCKR(err, rv) {
			return true
		}
	}
	return false
}

// UnwrapKey reverses WrapKey: sealer.ErrOpen if wrapped or aad was changed
// or another key wrapped it. The caller owns the data key and zeroes it.
func (t *Token) UnwrapKey(wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) != wrappedSize {
		return nil, sealer.ErrOpen
	}
	var out []byte
	err := t.do("C_Decrypt (AES-GCM)", func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
		p, mech := gcm(wrapped[:ivSize], aad)
		defer p.Free()
		if err := ctx.DecryptInit(sh, mech, key); err != nil {
			return err
		}
		pt, err := ctx.Decrypt(sh, wrapped[ivSize:])
		switch {
		case err == nil:
		case openCKR(err):
			return errOpen
		case isCKR(err, pkcs11.CKR_GENERAL_ERROR) || isCKR(err, pkcs11.CKR_FUNCTION_FAILED):
			// SoftHSM2 2.6.1 answers a GCM tag that does not verify with
			// CKR_GENERAL_ERROR, which a failing device also says. Ask the
			// key for something that must work: if it does, the device is
			// fine and the value did not open.
			if t.probe(ctx, sh, key) == nil {
				return errOpen
			}
			return err
		default:
			return err
		}
		if len(pt) != sealer.RootKeySize {
			clear(pt)
			return errOpen
		}
		out = pt
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// probe encrypts a zero block with the key under a random IV: it works on a
// device that works.
func (t *Token) probe(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
	iv := make([]byte, ivSize)
	rand.Read(iv)
	p, mech := gcm(iv, nil)
	defer p.Free()
	if err := ctx.EncryptInit(sh, mech, key); err != nil {
		return err
	}
	_, err := ctx.Encrypt(sh, make([]byte, 16))
	return err
}

// DeriveKey returns 32 bytes derived from the root key for label: NIST SP
// 800-108 KDF in counter mode with AES-CMAC (CKM_AES_CMAC, C_Sign) as the
// PRF, run by the token: K(i) = CMAC(root, [i]_32 || label || 0x00 ||
// [256]_32) for i = 1, 2, the result K(1) || K(2). The context is empty, so
// the input is unambiguous even for a label holding 0x00 (the counter and
// length are fixed-size). The caller owns the result and zeroes it.
func (t *Token) DeriveKey(label string) ([]byte, error) {
	const outBits = 8 * sealer.RootKeySize
	out := make([]byte, 0, sealer.RootKeySize) // no growth: no stray copies
	err := t.do("C_Sign (AES-CMAC)", func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
		clear(out)
		out = out[:0]
		msg := make([]byte, 0, 4+len(label)+1+4)
		for i := uint32(1); len(out) < sealer.RootKeySize; i++ {
			msg = binary.BigEndian.AppendUint32(msg[:0], i)
			msg = append(msg, label...)
			msg = append(msg, 0)
			msg = binary.BigEndian.AppendUint32(msg, outBits)
			if err := ctx.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CMAC, nil)}, key); err != nil {
				return err
			}
			mac, err := ctx.Sign(sh, msg)
			if err != nil {
				return err
			}
			if len(mac) != 16 {
				clear(mac)
				return fmt.Errorf("%w: pkcs11: token %s: AES-CMAC of %d bytes", sealer.ErrUnavailable, t.tokenName(), len(mac))
			}
			n := min(len(mac), sealer.RootKeySize-len(out))
			out = append(out, mac[:n]...)
			clear(mac)
		}
		return nil
	})
	if err != nil {
		clear(out)
		return nil, err
	}
	return out, nil
}

var _ sealer.KeyWrapper = (*Token)(nil)

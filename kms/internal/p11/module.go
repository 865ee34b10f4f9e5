//go:build pkcs11 && cgo

package p11

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

// module is one loaded PKCS#11 module, shared by every Token of the
// process that names it: C_Initialize and C_Finalize act on the library,
// not on a Token, so two Tokens on one module must agree on them.
type module struct {
	path string
	ctx  *pkcs11.Ctx
	refs int // under modules.mu

	// rw: operations hold it for reading, a re-initialisation
	// (C_Finalize, C_Initialize) for writing, so no Token is inside the
	// library while it restarts.
	rw  sync.RWMutex
	gen atomic.Uint64 // bumped (under rw) by every re-initialisation: sessions of an older gen are gone
}

var modules struct {
	sync.Mutex
	m map[string]*module
}

// loadModule loads and initialises path, or returns the module already
// loaded, with one more reference.
func loadModule(path string) (*module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[path]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("pkcs11: module %s does not load", path)
	}
	if err := ctx.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("pkcs11: module %s: C_Initialize: %s", path, ckrName(err))
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	if modules.m == nil {
		modules.m = map[string]*module{}
	}
	modules.m[path] = m
	return m, nil
}

// release drops a reference; the last one finalises and unloads the module.
func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.path)
	m.rw.Lock()
	defer m.rw.Unlock()
	m.ctx.Finalize()
	m.ctx.Destroy()
}

// reinit restarts the library (C_Finalize, C_Initialize): some modules
// (SoftHSM2 among them) mark a token that went away invalid until then.
// Every session of every Token on the module is gone after; each notices
// by gen and opens a new one.
func (m *module) reinit() error {
	m.rw.Lock()
	defer m.rw.Unlock()
	m.gen.Add(1)
	m.ctx.Finalize() // fails if not initialised: that is the state wanted
	if err := m.ctx.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("pkcs11: module %s: C_Initialize: %s", m.path, ckrName(err))
	}
	return nil
}

func isCKR(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// ckrName is the CKR_ name of a PKCS#11 error (or the error's text).
func ckrName(err error) string {
	var e pkcs11.Error
	if errors.As(err, &e) {
		if s := e.Error(); len(s) > 0 {
			// "pkcs11: 0x82: CKR_OBJECT_HANDLE_INVALID"
			for i := len(s) - 1; i >= 0; i-- {
				if s[i] == ' ' {
					if n := s[i+1:]; n != "" {
						return n
					}
					break
				}
			}
		}
		return fmt.Sprintf("CKR 0x%X", uint(e))
	}
	return err.Error()
}

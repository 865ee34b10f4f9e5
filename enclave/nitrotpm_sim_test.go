//go:build tpmsim

package enclave

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// fakeNitroTPM is the reference TPM simulator with AWS's vendor command
// added: every other command goes to the simulator. It watches the session
// start and the message buffer's definition, and on the vendor command
// checks the command's handles and its HMAC (with the salt the attestor
// reports), reads the NSM request from the NV index, signs a NitroTPM
// document for it, and writes the NSM response there.
type fakeNitroTPM struct {
	transport.TPMCloser
	t        *testing.T
	ca       *nitrotest.CA
	salt     []byte
	nonceC   []byte // the session's first nonceCaller
	nonceTPM []byte
	session  uint32
	nvAuth   []byte
	nsmError bool // answer {"Error": "InvalidArgument"}
	calls    int
	indices  []uint32
	// The simulator's NV indices hold 2 KiB at most, a document more: the
	// buffer is defined at 2 KiB there, and read back after the vendor
	// command from virtual.
	virtual []byte
}

func (f *fakeNitroTPM) Send(cmd []byte) ([]byte, error) {
	be := binary.BigEndian
	cc := tpm2.TPMCC(be.Uint32(cmd[6:]))
	switch cc {
	case TPMCCAWSNSMRequest:
		return f.vendor(cmd)
	case tpm2.TPMCCStartAuthSession:
		n := be.Uint16(cmd[18:])
		f.nonceC = bytes.Clone(cmd[20 : 20+n])
	case tpm2.TPMCCNVDefineSpace:
		off := 14
		off += 4 + int(be.Uint32(cmd[off:]))
		n := int(be.Uint16(cmd[off:]))
		f.nvAuth = bytes.Clone(cmd[off+2 : off+2+n])
		cmd = bytes.Clone(cmd)
		be.PutUint16(cmd[len(cmd)-2:], 2048) // dataSize, the command's last field
	case tpm2.TPMCCNVRead:
		if f.virtual != nil && len(f.indices) > 0 && be.Uint32(cmd[14:]) == f.indices[len(f.indices)-1] {
			off := 18 + 4 + int(be.Uint32(cmd[18:]))
			size, at := int(be.Uint16(cmd[off:])), int(be.Uint16(cmd[off+2:]))
			data := make([]byte, size)
			copy(data, f.virtual[min(at, len(f.virtual)):])
			var r []byte
			r = be.AppendUint16(r, uint16(tpm2.TPMSTSessions))
			r = be.AppendUint32(r, uint32(10+4+2+size+5))
			r = be.AppendUint32(r, 0)
			r = be.AppendUint32(r, uint32(2+size))
			r = be.AppendUint16(r, uint16(size))
			r = append(r, data...)
			return append(r, 0, 0, 1, 0, 0), nil
		}
	}
	rsp, err := f.TPMCloser.Send(cmd)
	if err == nil && cc == tpm2.TPMCCStartAuthSession && responseCode(rsp) == nil {
		f.session = be.Uint32(rsp[10:])
		n := be.Uint16(rsp[14:])
		f.nonceTPM = bytes.Clone(rsp[16 : 16+n])
	}
	return rsp, err
}

func (f *fakeNitroTPM) vendor(cmd []byte) ([]byte, error) {
	f.calls++
	be := binary.BigEndian
	index := be.Uint32(cmd[10:])
	f.indices = append(f.indices, index)
	if be.Uint16(cmd) != uint16(tpm2.TPMSTSessions) || be.Uint32(cmd[14:]) != index || int(be.Uint32(cmd[2:])) != len(cmd) {
		return nil, fmt.Errorf("fake: malformed vendor command %x", cmd[:22])
	}
	pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(f.TPMCloser)
	if err != nil {
		return nil, err
	}
	name := pub.NVName.Buffer
	area := cmd[22:]
	nc := area[6 : 6+be.Uint16(area[4:])]
	rest := area[6+len(nc):]
	attrs, sum := rest[0], rest[3:]
	if be.Uint32(area) != f.session {
		return nil, errors.New("fake: the vendor command's session is not the salted one")
	}
	key := tpm2.KDFa(crypto.SHA512, f.salt, "ATH", f.nonceTPM, f.nonceC, 512)
	cp := sha512.Sum512(append(append([]byte{0x20, 0, 0, 1}, name...), name...))
	mac := hmac.New(sha512.New, append(key, f.nvAuth...))
	mac.Write(cp[:])
	mac.Write(nc)
	mac.Write(f.nonceTPM)
	mac.Write([]byte{attrs})
	if !hmac.Equal(sum, mac.Sum(nil)) {
		// TPM_RC_AUTH_FAIL, session 1.
		return []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x8e}, nil
	}
	h := tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: pub.NVName}
	ah := tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(f.nvAuth)}
	var req []byte
	for off := 0; off < 1024; off += 512 {
		r, err := tpm2.NVRead{AuthHandle: ah, NVIndex: h, Size: 512, Offset: uint16(off)}.Execute(f.TPMCloser)
		if err != nil {
			return nil, err
		}
		req = append(req, r.Data.Buffer...)
	}
	var m struct{ Attestation nsmAttestation }
	if _, err := cbor.UnmarshalFirst(req, &m); err != nil {
		return nil, fmt.Errorf("fake: the NSM request: %v", err)
	}
	var rsp []byte
	if f.nsmError {
		rsp, _ = cbor.Marshal(map[string]any{"Error": "InvalidArgument"})
	} else {
		doc, err := f.ca.Sign(nitrotest.Document{NitroTPM: true, Timestamp: time.Now(), PublicKey: m.Attestation.PublicKey, UserData: m.Attestation.UserData, Nonce: m.Attestation.Nonce})
		if err != nil {
			return nil, err
		}
		rsp, _ = cbor.Marshal(map[string]any{"Attestation": map[string]any{"document": doc}})
	}
	f.virtual = rsp
	return []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}, nil
}

// TestNitroTPMAttestor drives the attestor against the TPM simulator with
// the vendor command faked: the salted session, the message buffer and its
// cleanup are the simulator's to judge, the vendor command's HMAC the
// fake's; the document it returns verifies as a NitroTPM one binding the
// key, nonce and user data.
func TestNitroTPMAttestor(t *testing.T) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, nsmError := range []bool{false, true} {
		sim, err := simulator.OpenSimulator()
		if err != nil {
			t.Skipf("no TPM simulator: %v", err)
		}
		f := &fakeNitroTPM{TPMCloser: sim, t: t, ca: ca, nsmError: nsmError}
		a := NitroTPM{
			Open:    func() (transport.TPMCloser, error) { return noClose{f}, nil },
			sawSalt: func(s []byte) { f.salt = bytes.Clone(s) },
		}
		doc, err := a.Attest(k.PublicKeyDER(), []byte("nonce"), []byte("user data"))
		if nsmError {
			if err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
				t.Fatalf("an NSM error: %v", err)
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			v, _ := nitro.New(nitro.Options{Roots: ca.Roots()})
			c, err := v.Verify(doc, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if c.Format != attest.FormatNitroTPM || !bytes.Equal(c.PublicKeyDER, k.PublicKeyDER()) || string(c.Nonce) != "nonce" || string(c.UserData) != "user data" {
				t.Fatalf("claims %+v", c)
			}
		}
		// The buffer is gone, and so are the session and the key.
		if f.calls != 1 {
			t.Fatalf("%d vendor commands", f.calls)
		}
		if _, err := (tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(f.indices[0])}).Execute(sim); err == nil {
			t.Fatal("the NV message buffer is still defined")
		}
		caps, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: 0x80000000, PropertyCount: 16}.Execute(sim)
		if err != nil {
			t.Fatal(err)
		}
		if hs, _ := caps.CapabilityData.Data.Handles(); len(hs.Handle) != 0 {
			t.Fatalf("transient objects left: %v", hs.Handle)
		}
		sim.Close()
	}

	// A wrong HMAC (another salt: one bit flipped, since HMAC pads its key
	// with zeros) fails the vendor command.
	sim, _ := simulator.OpenSimulator()
	defer sim.Close()
	f := &fakeNitroTPM{TPMCloser: sim, t: t, ca: ca}
	a := NitroTPM{Open: func() (transport.TPMCloser, error) { return noClose{f}, nil },
		sawSalt: func(s []byte) { f.salt = bytes.Clone(s); f.salt[0] ^= 1 }}
	if _, err := a.Attest(k.PublicKeyDER(), nil, nil); err == nil || !strings.Contains(err.Error(), "vendor command") {
		t.Fatalf("a wrong HMAC: %v (%d calls, salt %x)", err, f.calls, f.salt)
	}
}

// noClose keeps the simulator open after the attestor closes it.
type noClose struct{ transport.TPMCloser }

func (noClose) Close() error { return nil }

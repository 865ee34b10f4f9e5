package tdx

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TestMutatedQuotes: random bit flips, byte writes and truncations of a
// simulated and of Intel's real envelope never panic, every result keeps
// Verify's contract (FuzzVerify found go-tdx-guest's parser slicing out of
// range on a hostile QE authentication data size), and each is judged as
// what it has become: bytes that are no envelope are ErrMalformed; an
// altered quote is refused, and never as genuine but unbound (ErrBinding:
// only a quote whose every signature verifies gets that far); the same
// quote binding other data is refused; an unchanged envelope (a write of
// the byte already there) has the original's outcome, which for Intel's
// quote is ErrBinding, since it cannot bind our key. Neither verifier
// trusts the other's chain.
func TestMutatedQuotes(t *testing.T) {
	ca := newSimCA(t)
	type target struct {
		name   string
		v      *Verifier
		at     time.Time
		seed   []byte
		orig   *envelope.Envelope
		intact error // the outcome of the unmutated envelope
	}
	targets := []*target{
		{name: "simulated", v: simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{}), at: simTime,
			seed: marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, []byte("n")))},
		{name: "real", v: realVerifier(t, Options{}), at: realTime, seed: realEnvelope(t, readQuote(t)), intact: attest.ErrBinding},
	}
	for _, tg := range targets {
		var err error
		if tg.orig, err = envelope.Decode(tg.seed); err != nil {
			t.Fatal(err)
		}
		c, err := tg.v.Verify(tg.seed, tg.at)
		attesttest.CheckResult(t, c, err, tg.intact)
	}
	r := rand.New(rand.NewSource(1))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		from := targets[i%2]
		b := append([]byte(nil), from.seed...)
		for range 1 + r.Intn(4) {
			switch r.Intn(3) {
			case 0:
				b[r.Intn(len(b))] ^= byte(1 << r.Intn(8))
			case 1:
				b[r.Intn(len(b))] = byte(r.Intn(256))
			case 2:
				p := r.Intn(len(b))
				b = b[:p+1+r.Intn(len(b)-p)]
			}
		}
		e, decodeErr := envelope.Decode(b)
		for _, tg := range targets {
			c, err := tg.v.Verify(b, tg.at)
			attesttest.CheckResult(t, c, err, err)
			switch {
			case decodeErr != nil:
				if !errors.Is(err, attest.ErrMalformed) {
					t.Fatalf("%d: %s verifier: bytes that are no envelope (%v): %v; want ErrMalformed", i, tg.name, decodeErr, err)
				}
			case tg != from:
				if err == nil {
					t.Fatalf("%d: the %s verifier accepted a mutated %s envelope", i, tg.name, from.name)
				}
			case !bytes.Equal(e.Quote, from.orig.Quote):
				if err == nil || errors.Is(err, attest.ErrBinding) {
					t.Fatalf("%d: %s: an altered quote was judged genuine: %v", i, tg.name, err)
				}
			case e.Format != from.orig.Format || e.Collateral != nil ||
				!bytes.Equal(e.Binding(crypto.SHA512), from.orig.Binding(crypto.SHA512)):
				if err == nil {
					t.Fatalf("%d: %s: the quote verified binding other data", i, tg.name)
				}
			default: // the same evidence
				attesttest.CheckResult(t, c, err, from.intact)
			}
		}
	}
}

// TestHostileLengths: each length field of a quote, set to what overruns
// it, is ErrMalformed, not a panic.
func TestHostileLengths(t *testing.T) {
	ca := newSimCA(t)
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{})
	cert := offSignedData + 128
	auth := cert + 6 + qeReportLen + 64
	for name, edit := range map[string]func(q []byte){
		"signed data size":        func(q []byte) { binary.LittleEndian.PutUint32(q[offSignedDataSize:], 0xffffffff) },
		"certification data type": func(q []byte) { binary.LittleEndian.PutUint16(q[cert:], 5) },
		"certification data size": func(q []byte) { binary.LittleEndian.PutUint32(q[cert+2:], 0xffff) },
		"QE auth data size":       func(q []byte) { binary.LittleEndian.PutUint16(q[auth:], 0xffff) },
		"QE auth data size, less": func(q []byte) { binary.LittleEndian.PutUint16(q[auth:], 31) },
		"PCK chain size":          func(q []byte) { binary.LittleEndian.PutUint32(q[auth+2+32+2:], 0x7fffffff) },
	} {
		t.Run(name, func(t *testing.T) {
			e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
			if err := checkLayout(e.Quote); err != nil {
				t.Fatalf("the unedited quote's layout: %v", err)
			}
			edit(e.Quote)
			// Refused by our own layout check, before go-tdx-guest parses
			// (parseQuote's recover would hide a regression otherwise).
			if err := checkLayout(e.Quote); err == nil {
				t.Fatal("checkLayout passes the edited quote")
			}
			c, err := v.verify(e, simTime)
			attesttest.CheckResult(t, c, err, attest.ErrMalformed)
			if err != nil && strings.Contains(err.Error(), "go-tdx-guest failed") {
				t.Fatalf("refused by the recover guard, not the layout check: %v", err)
			}
		})
	}
}

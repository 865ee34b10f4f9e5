package tdx

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestMutatedQuotes: random bit flips, byte writes and truncations of a
// simulated and of Intel's real envelope never panic, and every result
// keeps Verify's contract (FuzzVerify found go-tdx-guest's parser slicing
// out of range on a hostile QE authentication data size).
func TestMutatedQuotes(t *testing.T) {
	ca := newSimCA(t)
	sim := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{})
	real := realVerifier(t, Options{})
	seeds := [][]byte{marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, []byte("n"))), realEnvelope(t, readQuote(t))}
	r := rand.New(rand.NewSource(1))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		b := append([]byte(nil), seeds[i%2]...)
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
		c, err := real.Verify(b, realTime)
		if err == nil {
			t.Fatalf("%d: a mutated real quote verified", i)
		}
		attesttest.CheckResult(t, c, err, err)
		c, err = sim.Verify(b, simTime)
		attesttest.CheckResult(t, c, err, err)
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
			edit(e.Quote)
			c, err := v.verify(e, simTime)
			attesttest.CheckResult(t, c, err, attest.ErrMalformed)
		})
	}
}

package keyder

import (
	"bytes"
	"testing"
)

// The seed corpora in testdata/fuzz were copied from kms/internal/eckeys's
// (FuzzParseSPKI, FuzzParsePKCS8) and recipient's (FuzzParsePublicKey) when
// their parsing moved here: valid keys of every curve, the confusions
// between SM2 and P-256, BER, OpenSSL's output.

// FuzzParseECSPKI: no panic; a refusal returns nothing; an acceptance is
// canonical (MarshalECSPKI gives back exactly the input), of a listed curve,
// with an uncompressed point of its size.
func FuzzParseECSPKI(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		i, point, err := ParseECSPKI(in, testCurves)
		if err != nil {
			if i != 0 || point != nil {
				t.Fatalf("a refusal with a result: %d, %x", i, point)
			}
			return
		}
		out, err := MarshalECSPKI(testCurves[i].OID, point)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("accepted a non-canonical encoding: %v\n in  %x\n out %x", err, in, out)
		}
		if len(point) != 1+2*testCurves[i].Size || point[0] != 4 {
			t.Fatalf("accepted point %x", point)
		}
	})
}

// FuzzParseECPKCS8: no panic; a refusal returns nothing; an acceptance is
// one of the four encodings MarshalECPKCS8 writes of what was parsed (inner
// parameters or not, public key or not), so nothing else gets through.
func FuzzParseECPKCS8(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		i, scalar, point, err := ParseECPKCS8(in, testCurves)
		if err != nil {
			if i != 0 || scalar != nil || point != nil {
				t.Fatal("a refusal with a result")
			}
			return
		}
		for _, withParams := range []bool{false, true} {
			if out, _ := MarshalECPKCS8(testCurves[i].OID, scalar, point, withParams, point != nil); bytes.Equal(out, in) {
				return
			}
		}
		t.Fatalf("accepted an encoding MarshalECPKCS8 does not write: %x", in)
	})
}

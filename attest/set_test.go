package attest

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type fakeVerifier struct {
	c   *Claims
	err error
}

func (f fakeVerifier) Verify([]byte, time.Time) (*Claims, error) { return f.c, f.err }

func TestSetDispatch(t *testing.T) {
	ok := &Claims{Format: FormatQingtian}
	chainErr := fmt.Errorf("%w: not our root", ErrChain)
	sigErr := fmt.Errorf("%w: bad", ErrSignature)
	now := time.Now()
	doc := []byte{0x84, 1, 2}

	s := &Set{COSE: []Verifier{fakeVerifier{err: chainErr}, fakeVerifier{c: ok}}}
	if c, err := s.Verify(doc, now); err != nil || c != ok {
		t.Fatalf("second verifier not tried: %v %v", c, err)
	}
	if c, err := s.Verify([]byte{0xd2, 0x84}, now); err != nil || c != ok {
		t.Fatalf("tagged COSE not dispatched: %v %v", c, err)
	}
	// The verifier that got past its chain explains the failure.
	s = &Set{COSE: []Verifier{fakeVerifier{err: chainErr}, fakeVerifier{err: sigErr}}}
	if _, err := s.Verify(doc, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("err = %v; want the signature error", err)
	}
	s = &Set{COSE: []Verifier{fakeVerifier{err: chainErr}, fakeVerifier{err: fmt.Errorf("%w: other", ErrChain)}}}
	if _, err := s.Verify(doc, now); err != chainErr {
		t.Fatalf("err = %v; want the first chain error", err)
	}
	for name, ev := range map[string][]byte{"empty": nil, "huge": make([]byte, MaxEvidence+1), "json": []byte(`{"a":1}`)} {
		if c, err := s.Verify(ev, now); !errors.Is(err, ErrMalformed) || c != nil {
			t.Errorf("%s: %v %v", name, c, err)
		}
	}
	if _, err := (&Set{}).Verify(doc, now); !errors.Is(err, ErrNoVerifier) {
		t.Fatalf("empty set: %v", err)
	}
}

func TestMeasurements(t *testing.T) {
	c := &Claims{Format: FormatNitro, PCRs: map[int][]byte{0: {0xAB, 0x01}, 8: {0xff}, 31: {0}}}
	m := c.Measurements()
	want := map[string]string{"Format": "nitro", "ImageSha384": "ab01", "PCR0": "ab01", "PCR8": "ff", "PCR31": "00"}
	if len(m) != len(want) {
		t.Fatalf("Measurements = %v", m)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q; want %q", k, m[k], v)
		}
	}
}

package pipeline

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/attestkms/attestkms/kms"
)

// TestOutcome: every way a request ends has one outcome, and a budget's
// refusal names its budget.
func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		err     error
		outcome string
		limit   string
	}{
		{nil, OutcomeOK, ""},
		{&throttled{LimitSource}, OutcomeThrottled, LimitSource},
		{&throttled{LimitAccessKey}, OutcomeThrottled, LimitAccessKey},
		{&kms.Error{Kind: kms.ErrThrottled, Msg: "later"}, OutcomeThrottled, LimitColdChain},
		{authFailure(ErrSignature), OutcomeAuthFailure, ""},
		{authFailure(Refuse(WireError{Code: "X"}, "wrong region")), OutcomeAuthFailure, ""},
		{ErrTooLarge, OutcomeClientError, ""},
		{&kms.Error{Kind: kms.ErrNotFound, Msg: "no"}, OutcomeClientError, ""},
		{errors.New("disk on fire"), OutcomeServerError, ""},
		{&kms.Error{Kind: kms.ErrCanceled, Msg: "canceled"}, OutcomeServerError, ""},
	} {
		if got := outcome(c.err); got != c.outcome {
			t.Errorf("outcome(%v) = %s; want %s", c.err, got, c.outcome)
		}
		if got := throttledBy(c.err); got != c.limit {
			t.Errorf("throttledBy(%v) = %q; want %q", c.err, got, c.limit)
		}
	}
	for err, want := range map[error]string{
		authFailure(ErrMissing): ReasonMissing, authFailure(fmt.Errorf("%w: no date", ErrMalformed)): ReasonMalformed,
		authFailure(ErrExpired): ReasonExpired, authFailure(ErrSignature): ReasonSignature, authFailure(ErrReplay): ReasonReplay,
		authFailure(Refuse(WireError{Code: "X"}, "wrong region")): ReasonRefused,
	} {
		if got := authReason(err); got != want {
			t.Errorf("authReason(%v) = %s; want %s", err, got, want)
		}
	}
	// A throttled request is answered as the table's ErrThrottled.
	tab := Table{ErrThrottled: {Code: "Slow", Message: "slow down"}, kms.ErrInternal: {Code: "Internal"}}
	if w, msg := tab.Wire(&throttled{LimitSource}); w.Code != "Slow" || msg != "slow down" {
		t.Errorf("throttled answers %v %q", w, msg)
	}
}

// TestSourceKey: an IPv4 address is its own key, an IPv6 address its /64
// (an IPv4-mapped one its IPv4 address).
func TestSourceKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"":                          "",
		"not an address":            "not an address",
		"2001:db8:1:3:3:4:5:6%eth0": "2001:db8:1:3::/64",
	} {
		if got := sourceKey(ip); got != want {
			t.Errorf("sourceKey(%q) = %q; want %q", ip, got, want)
		}
	}
	// An IPv4 address is its own key, as netip writes it, without a new
	// string (every request's source is looked up).
	for _, ip := range []string{"0.0.0.0", "10.1.2.3", "255.255.255.255", "192.0.2.07", "1.2.3", "01.2.3.4"} {
		want := ip
		if a, err := netip.ParseAddr(ip); err == nil {
			want = a.String()
		}
		if got := sourceKey(ip); got != want {
			t.Errorf("sourceKey(%q) = %q; want %q", ip, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { sourceKey("192.0.2.7") }); n != 0 {
		t.Errorf("sourceKey of an IPv4 address allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { throttledBy(nil) }); n != 0 {
		t.Errorf("throttledBy(nil) allocates %v times", n)
	}
}

// TestOperationLabel: only an operation the dialect serves names itself.
func TestOperationLabel(t *testing.T) {
	h := &Handler{d: Dialect{Known: func(op string) bool { return op == "Encrypt" }}}
	if h.operationLabel("Encrypt") != "Encrypt" || h.operationLabel("Encrypt\x00") != UnknownOperation || h.operationLabel("") != UnknownOperation {
		t.Fatal("a name the dialect does not serve is a label")
	}
	if (&Handler{}).operationLabel("Encrypt") != UnknownOperation {
		t.Fatal("a dialect without Known names operations")
	}
}

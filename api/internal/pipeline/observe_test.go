package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms"
)

// TestOutcome: every way a request ends has one outcome, and a budget's
// refusal names its budget. A cancellation is canceled only when the
// request's context was canceled (the client hung up); a store's own
// deadline under a live request, a deadline on the request, and any other
// fault while the client is gone stay the server's.
func TestOutcome(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	late, cancelLate := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelLate()
	canceled := &kms.Error{Kind: kms.ErrCanceled, Msg: "canceled", Cause: context.Canceled}
	for _, c := range []struct {
		err     error
		outcome string
		limit   string
		ctx     context.Context // nil: a live request's
	}{
		{nil, OutcomeOK, "", nil},
		{nil, OutcomeOK, "", gone},
		{&throttled{LimitSource}, OutcomeThrottled, LimitSource, nil},
		{&throttled{LimitAccessKey}, OutcomeThrottled, LimitAccessKey, nil},
		{&kms.Error{Kind: kms.ErrThrottled, Msg: "later"}, OutcomeThrottled, LimitColdChain, nil},
		{authFailure(ErrSignature), OutcomeAuthFailure, "", nil},
		{authFailure(Refuse(WireError{Code: "X"}, "wrong region")), OutcomeAuthFailure, "", nil},
		{ErrTooLarge, OutcomeClientError, "", nil},
		{&kms.Error{Kind: kms.ErrNotFound, Msg: "no"}, OutcomeClientError, "", nil},
		{errors.New("disk on fire"), OutcomeServerError, "", nil},
		{canceled, OutcomeServerError, "", nil},
		{canceled, OutcomeCanceled, "", gone},
		{canceled, OutcomeServerError, "", late},
		{errors.New("disk on fire"), OutcomeServerError, "", gone},
		{&kms.Error{Kind: kms.ErrInternal, Msg: "internal error", Cause: context.Canceled}, OutcomeServerError, "", gone},
		{&kms.Error{Kind: kms.ErrNotFound, Msg: "no"}, OutcomeClientError, "", gone},
		{authFailure(ErrSignature), OutcomeAuthFailure, "", gone},
	} {
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if got := outcome(ctx, c.err); got != c.outcome {
			t.Errorf("outcome(%v) with the request's context %v = %s; want %s", c.err, ctx.Err(), got, c.outcome)
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

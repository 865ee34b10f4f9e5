package pipeline

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/attestkms/attestkms/api/internal/ratelimit"
	"github.com/attestkms/attestkms/internal/sourceaddr"
	"github.com/attestkms/attestkms/kms"
)

// Limits are the request budgets, token buckets kept by this process: a
// server's limits are per node. api.New builds one Limits for every
// dialect, so that a key's or an address's budget is one whatever dialect
// it speaks. The zero value limits nothing.
type Limits struct {
	// PerKey, if not nil, is each access key's budget: a request whose
	// signature verified takes a token from its key's bucket, after the
	// scope check and the replay check (a replay costs its victim's key
	// nothing) and before its signature is recorded as used (so that the
	// client's retry is not a replay); none left is ErrThrottled,
	// counted for its key's summary line (kms/audit's Throttled), never
	// an audit line of its own, and logged only in the request's own line
	// (at debug), as any request is.
	PerKey *ratelimit.Keyed
	// FailuresPerSource, if not nil, is each source address's budget for
	// requests that fail authentication (an IPv6 address counts by its /64,
	// which one host usually holds whole): each failure takes a token. From
	// an address with none left, a request that names no access key the
	// server knows (no Authorization header, one that does not parse, an
	// unknown key) is refused (ErrThrottled) with its signature unchecked
	// (its body read and dropped, never hashed, as a known key's is read: so
	// that net/http's behaviour around the answer does not say whether the
	// key exists), and is not audited. One that names a known key is
	// checked as ever, and served if its signature verifies: an address may
	// be many clients' (a NAT gateway, a /64), and one of them must not lock
	// the others out. If it fails, it is charged and counted, by its own
	// reason, for the address's summary line and the Observer, and answered
	// ErrThrottled, as the refused ones are, so the answer does not say the
	// key exists. So a flood of bad
	// signatures from one address costs neither signature checks nor audit
	// lines once its budget is spent, unless it names a known access key id
	// (ids are not secrets): then each costs a signature check, as from an
	// address with budget left, and still no audit line of its own (the
	// package doc says what that costs). Other addresses are served. Only an
	// address's own bucket refuses it: while the table is full (a spray from
	// many addresses), the addresses it cannot hold have their failures
	// charged to the shared overflow and are never refused for it, or the
	// spray would lock out every new client (ratelimit.Keyed.Spent).
	FailuresPerSource *ratelimit.Keyed
}

// What a budget refused, for the metrics' limit label.
const (
	LimitAccessKey = "access_key"
	LimitSource    = "source"
	LimitColdChain = "cold_chain" // kms.ErrThrottled: the verifiers' budget for new chains
	LimitKeyPair   = "key_pair"   // kms.ErrKeyPairsBusy: RSA data key pairs generated at once
)

// throttled is a request refused by a budget: ErrThrottled, and which.
type throttled struct{ limit string }

func (e *throttled) Error() string { return ErrThrottled.Error() }
func (e *throttled) Unwrap() error { return ErrThrottled }

// throttledBy says which budget refused err: one of the Limit constants, or
// "" if none did.
func throttledBy(err error) string {
	if err == nil {
		return "" // every answered request asks: without the errors.As target on the heap
	}
	var t *throttled
	switch {
	case errors.As(err, &t):
		return t.limit
	case errors.Is(err, kms.ErrKeyPairsBusy):
		return LimitKeyPair
	case errors.Is(err, kms.ErrThrottled):
		return LimitColdChain
	}
	return ""
}

// sourceKey is the key of a source address in FailuresPerSource: the
// source it counts as (sourceaddr.Of, as the connection bound counts it),
// an IPv6 one written as its /64. An address that does not parse (there is
// none behind a test's recorder) is its own key.
func sourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() {
		return ip // ParseAddr takes only the canonical dotted form: ip is a.String()
	}
	a = sourceaddr.Of(a)
	if a.Is6() {
		return netip.PrefixFrom(a, 64).String()
	}
	return a.String()
}

// namesKnownKey reports whether r's Authorization header names an access
// key the server knows (one that has not expired): the Authenticator
// parses the header, kms's credentials say whether the key is theirs
// (copying no secret). The signature check looks it up after the body is
// read, so a credential deleted meanwhile is not used.
func (h *Handler) namesKnownKey(r *http.Request) bool {
	id := h.d.Authenticator.AccessKeyID(r)
	if id == "" {
		return false
	}
	return h.svc.Credentials().Known(id)
}

// sourceSpent reports whether the request's source has no budget left for
// failures: its own, never the overflow it may share.
func (h *Handler) sourceSpent(source string, now time.Time) bool {
	l := h.limits.FailuresPerSource
	return l != nil && l.Spent(sourceKey(source), now)
}

// chargeSource takes a token from the source's budget for failures (the
// overflow's, for a source the full table does not hold: counted, never a
// reason to refuse).
func (h *Handler) chargeSource(source string, now time.Time) {
	if l := h.limits.FailuresPerSource; l != nil {
		l.Allow(sourceKey(source), now)
	}
}

// keyAllowed takes a token from the access key's budget.
func (h *Handler) keyAllowed(accessKeyID string, now time.Time) bool {
	l := h.limits.PerKey
	return l == nil || l.Allow(accessKeyID, now)
}

package sourceaddr

import (
	"net/netip"
	"testing"
)

// TestOf: IPv4 addresses count alone, IPv6 addresses by their /64 (one host
// holds its /64 whole), IPv4-mapped IPv6 as IPv4, and a zone is dropped:
// the rule both the connection bound and the budget for failures count by.
func TestOf(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                 "192.0.2.1",
		"2001:db8:1:2::5":           "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::",
		"2001:db8:1:3:3:4:5:6%eth0": "2001:db8:1:3::",
		"::ffff:192.0.2.1":          "192.0.2.1",
		"::1":                       "::",
		"::":                        "::",
	} {
		if got := Of(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("%s counts as %s; want %s", in, got, want)
		}
	}
	if got := Of(netip.Addr{}); got != (netip.Addr{}) {
		t.Errorf("the zero Addr counts as %s", got)
	}
}

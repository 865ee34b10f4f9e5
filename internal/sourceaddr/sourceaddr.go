// Package sourceaddr says which source a client's address counts as, for
// the budgets and bounds kept per source: the API port's connections
// (cmd/attestkms's connLimit) and the budget for failed authentications
// (api/internal/pipeline). Both count one host as one source, so they
// group addresses alike, here.
//
// Threat model: the address is the direct peer's, which the client chose
// within what its network gives it. An IPv4 host holds one address; an
// IPv6 host is commonly given a whole /64 (SLAAC, privacy addresses) and
// can send from any address in it, so counting IPv6 addresses one by one
// would give one host 2^64 budgets. Clients behind one NAT, or one /64,
// share their source's.
package sourceaddr

import "net/netip"

// Of is the source a is counted as: an IPv4 address itself (an IPv4-mapped
// IPv6 address its IPv4 address), an IPv6 address the first address of its
// /64, without a zone. The zero Addr is itself.
func Of(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64) // cannot fail: 64 bits of an IPv6 address
		return p.Addr()
	}
	return a
}

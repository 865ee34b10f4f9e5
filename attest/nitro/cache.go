package nitro

import "github.com/attestkms/attestkms/attest/internal/fifo"

// chainCache remembers verified chains, so that verifying a document from an
// enclave already seen costs one ECDSA verification instead of a chain's
// five (about 0.5 ms against 2.5 ms).
//
// Soundness: an entry is keyed by the SHA-256 of the exact DER of the leaf
// and of every intermediate (keyOf), and each Verifier has its own cache, so
// a hit means these very bytes were verified to this Verifier's roots,
// which New copied and which nothing changes afterwards. x509's verdict on a
// chain depends on nothing else but the time; on a hit the validity period
// of every certificate is checked again at the new time. Only chains of
// documents that verified completely (genuine and fresh, with an acceptable
// key) are put, whether or not the debug-mode rule then refuses them; a
// document that fails verification never has its chain put.
//
// It is bounded: when full, the oldest entry goes (first in, first out: an
// enclave's leaf lives three hours, then a new one replaces it).
type chainCache = fifo.Cache[chainKey, *chainEntry]

func newChainCache(max int) *chainCache { return fifo.New[chainKey, *chainEntry](max) }

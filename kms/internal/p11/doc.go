// Package p11 keeps attestkms's root key in a PKCS#11 token (an HSM, a
// smart card, SoftHSM2 for tests): an AES-256 secret key generated in the
// token, sensitive and not extractable, that wraps every sealed value's
// data key (sealer.NewWrapped) and derives the keys that must be the same
// every time (sealer's backup MAC key). It implements sealer.KeyWrapper.
//
// The code that talks to the token needs cgo and builds only with the tag
// pkcs11 (github.com/miekg/pkcs11: a thin binding of the PKCS#11 C API);
// the pkcs11: URI parser (ParseURI) and the errors build everywhere.
//
// Threat model. What the token protects is the root key itself: it is
// generated in the token and never leaves it (CKA_SENSITIVE, not
// CKA_EXTRACTABLE, no CKA_WRAP: the token refuses to export it, wrapped
// or not; Open refuses a key that is extractable). Every value attestkms
// seals has a data key of its own, random, wrapped by the token with
// AES-256-GCM bound to the value's purpose and id. So:
//
//   - Whoever has the data directory, a backup or a stolen disk but not the
//     token (and its PIN) gets nothing: no key material, no credential
//     secret.
//   - Whoever controls the host while attestkms runs can ask the token, as
//     the process does, to unwrap any data key, and so open anything
//     sealed. The token is not an access-control boundary against root on
//     the host. What it gives is that the key cannot be copied off: use of
//     it stops when the token is removed or the process stopped (a changed
//     PIN counts from the next login), and the token (or the HSM's audit
//     log) sees every use.
//   - PKCS#11 logs in per token and process, not per session: while one
//     Token of the process is logged in to a token, another opened on it
//     is not asked for its PIN (C_Login says CKR_USER_ALREADY_LOGGED_IN).
//     attestkms opens one root key per process.
//   - Data keys: this package zeroes the buffers it owns. The binding
//     (miekg/pkcs11) passes a data key through C memory it frees without
//     zeroing (the plaintext of C_Decrypt), so a copy may linger in the C
//     heap until reused; whoever reads this process's memory has the data
//     keys in use anyway.
//   - The PIN is in this process's memory for as long as a Token lives
//     (to log in again when the token comes back). It is never logged nor
//     put in an error, and a pkcs11: URI may not carry one (ParseURI).
//
// Wrapped data key: IV (12 bytes, random, chosen anew for every wrap) ||
// AES-GCM ciphertext (32 bytes) || tag (16 bytes), the value's associated
// data as GCM's AAD. A wrapped key that does not authenticate is
// sealer.ErrOpen; anything else that fails is sealer.ErrUnavailable with
// the device's reason (e.g. "pkcs11: token attestkms: C_Encrypt (AES-GCM):
// CKR_DEVICE_REMOVED").
//
// DeriveKey is NIST SP 800-108 KDF in counter mode with AES-CMAC as the PRF
// (CKM_AES_CMAC with C_Sign): the token computes every block, the key
// never leaves it. Open requires CKM_AES_GCM and CKM_AES_CMAC of the token
// (SoftHSM2 2.6.1 has both; so do current HSMs); there is no fallback PRF.
//
// Sessions: a Token opens up to four, calls run in parallel on them and
// wait beyond. A token that goes away and comes back: a call that fails
// on the device's word (any answer but "does not open") drops every
// session and returns ErrUnavailable; the next call establishes them
// anew (finds the slot by the token's label or serial
// again, opens a session, logs in, finds the key; restarts the module with
// C_Finalize and C_Initialize if that fails, since SoftHSM2 keeps a token
// that went away invalid until then; the other Tokens on the module
// notice and open new sessions), at most once a second: calls in between
// fail at once, without a word to the device. The Token is the same
// throughout: nothing above it reopens anything. A refused PIN (CKR_PIN_INCORRECT, CKR_PIN_LOCKED)
// is never tried again: a token locks after a few wrong PINs, so the Token
// fails for good and must be opened anew with the right one.
//
// SoftHSM2 2.6.1 answers a GCM tag that does not verify with
// CKR_GENERAL_ERROR, which is also what a failing device says. UnwrapKey
// then asks the key for one GCM encryption of a zero block: if that works
// the device is sound and the value does not open (ErrOpen); if not, it
// is the device (ErrUnavailable).
package p11

import "errors"

// ErrNoKey is returned (wrapped) by Open when no AES secret key on the
// token matches the URI.
var ErrNoKey = errors.New("pkcs11: no such key")

// ErrExists is returned (wrapped) by Generate when an object with the
// key's label or id is on the token already.
var ErrExists = errors.New("pkcs11: key exists")

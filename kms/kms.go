package kms

import (
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Account identifies the one account a store serves. Every credential belongs
// to it; key ARNs name its AccountID, Huawei requests its ProjectID.
type Account struct {
	AccountID string `json:"account_id"`
	ProjectID string `json:"project_id"`
}

// Principal is an authenticated caller.
type Principal struct {
	AccessKeyID string
	Name        string
	// ARN is arn:aws:iam::<account>:root for the first (admin) credential and
	// arn:aws:iam::<account>:user/<name> for others.
	ARN string

	// identity is the credential's identity policy, nil for none; only a
	// credential lookup sets it (Credentials.Lookup).
	identity *identityPolicy
}

// Call is one authenticated request as kms sees it: who asks, under which
// request id, through which dialect. A dialect makes one per request; kms
// only reads it (each operation works on its own copy), and names it in the
// audit record every operation writes.
type Call struct {
	RequestID string
	Principal *Principal
	// SourceIP is the direct peer's address (aws:SourceIp), "" if unknown.
	SourceIP string
	// SecureTransport is true when the request came over TLS
	// (aws:SecureTransport).
	SecureTransport bool
	// Dialect names the dialect that asked ("aws"), for the audit record;
	// kms never acts on it.
	Dialect string
	// WireError, if not nil, is how the dialect answers err: its wire code
	// and the message the client sees, which the audit record keeps. If
	// nil, the record names err's kind and kms's message.
	WireError func(err error) (code, message string)
	// Request is the request's body, byte for byte as received: an answer
	// to a request with a Recipient signs its SHA-256 (docs/answers.md), so
	// that an enclave can tell an answer to its own request from one to a
	// request its host made with its document. nil for a caller with no
	// wire request: the empty body's hash is signed then. kms only reads
	// it.
	Request []byte
	// RequestSHA256 is Request's SHA-256, when the caller has it (the
	// pipeline's signature check hashed the body); nil: kms hashes Request
	// itself. The caller vouches that it is Request's.
	RequestSHA256 *[sha256.Size]byte

	op *opState // the operation's own copy's (begin)
}

// Service is the key service over one store (Open): the operations.
type Service struct {
	opts Options
	// st is auth, or a test's wrapper of it: every record kms reads is
	// verified and every record it writes MACed (store.Authenticated).
	st   store.Store
	auth *store.Authenticated
	// sealer is the root key's: what the store holds sealed. A root-key
	// rotation replaces it (rootrotate.go) holding rootMu and changeMu:
	// what seals reads it inside a change (changeMu), what opens
	// records it read holds rootMu for reading from the read to the open.
	sealer *sealer.Sealer
	rootMu sync.RWMutex
	// rsaPairs holds a token while an RSA data key pair is generated
	// (generate_data_key_pair.go): at most half the CPUs at once.
	rsaPairs rsaPairBudget
	// ready is Ready's shared store read (ready.go).
	ready   readyCache
	keys    *keyCache
	account Account
	region  string
	// protectedNow: this Open authenticated the store's records
	// (protectRecords).
	protectedNow bool
	// svcGenMu serialises noteServiceKeyGen's file updates.
	svcGenMu sync.Mutex
	// recordsGenMu serialises noteRecordsGen's; damaged is why the node
	// refuses every operation, nil while the store's records are those
	// its digest sums (digest.go).
	recordsGenMu sync.Mutex
	damaged      atomic.Pointer[error]
	// damageFound counts setDamaged's calls, so that a pass clears only
	// damage found before its read began (clearDamaged); damageMu guards
	// it and every write of damaged.
	damageMu    sync.Mutex
	damageFound uint64
	// history is the refusal of a store whose records digest is not of a
	// history this data directory saw (errOtherHistory): unlike damaged,
	// no pass clears it (historyMarker).
	history atomic.Pointer[error]
	// seen is the newest records digest the node saw (digest.go), read
	// from the data directory's file once (seenLoaded), which holds it
	// unless seenDirty (seenTimer writes it); under recordsGenMu.
	seen       seenDigest
	seenLoaded bool
	seenDirty  bool
	seenTimer  *time.Timer
	audit      *audit.Log
	creds      *Credentials
	now        func() time.Time
	log        *slog.Logger

	// chain is the name of this process's audit chain in the store: "" for
	// a store one process holds, the node's id for a shared one (node.go).
	chain string
	// changeMu runs changes one at a time (change).
	changeMu sync.Mutex
	// shredPending is set when keys were destroyed and the store not yet
	// compacted since; shredMu runs compactions one at a time (shred.go).
	shredPending atomic.Bool
	shredMu      sync.Mutex
	// follow follows a shared store's changes (follow.go); nil for a store
	// one process holds.
	follow *follower
	// unlockNode releases the node directory's lock (node.go); nil if none.
	unlockNode func()
	// svcKeys are the answer-signing keys (servicekey.go), set by Open.
	svcKeys atomic.Pointer[serviceKeys]
}

// Close closes the store and the audit log, zeroing cached key material.
func (s *Service) Close() error {
	if s.follow != nil {
		s.follow.stop()
	}
	s.noteGeneration()
	aerr := s.audit.Close()
	s.keys.close()
	if set := s.svcKeys.Load(); set != nil {
		set.zero() // the answer-signing private keys
	}
	err := s.st.Close()
	s.sealer.Close()
	if s.unlockNode != nil {
		s.unlockNode()
	}
	if err != nil {
		return err
	}
	return aerr
}

// Node is the node's id over a shared store (its audit chain's name in the
// store, node.go), "" over a store one process holds.
func (s *Service) Node() string { return s.chain }

// Account returns the store's account.
func (s *Service) Account() Account { return s.account }

// AuditLog is the audit log of the store (Options.AuditPath): for the
// dialects' failed authentications (AuthFailure), serve's Reopen on SIGHUP,
// and tests. Operations write their own records; Close closes it.
func (s *Service) AuditLog() *audit.Log { return s.audit }

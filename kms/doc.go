// Package kms is attestkms's core: the key model and the operations
// (CreateKey, Encrypt, Decrypt, GenerateDataKey, DeriveSharedSecret, aliases,
// key state, rotation, policy, tags), over an encrypted store.
//
// The API. A Service (Open) is the data plane: its methods are the
// operations, all of one shape, Op(ctx, *Call, *OpRequest) (*OpResponse,
// error), one file each (op.go, with op_test.go holding its tests and
// BenchmarkOp), plus Account, Region, Ready and Close. The Call names the
// authenticated caller, the request and its dialect, and is only read; a listing
// answers one page (its items and NextMarker); an answer that names a key
// names it both ways (KeyRef: KeyID, the bare id, and KeyARN), so no caller
// parses ARNs. The context is honoured (cancel.go): a done ctx stops an
// operation before it starts, before it verifies a Recipient's evidence and
// before each store transaction, with ErrCanceled. Errors wrap one of the
// kinds in errors.go (Kinds), which each dialect maps with one table. The
// credential operations (CreateCredential, ListCredentials,
// DeleteCredential, RotateCredential) and Backup (backup.go) are the admin
// API's (api/admin): of the same shape, they are judged not by a key policy
// but by the caller's admin permission. What is not the data plane hangs off the Service by one
// method each: Admin (offline credential management, Maintain,
// PolicyProblems) for cmd/attestkms and never for a dialect; Credentials,
// whose Lookup gives a signature check a copy of a secret that the caller
// zeroes (and refuses an expired credential as an unknown one); and
// AuditLog, the store's audit.Log (package kms/audit), which the dialects
// tell of failed authentications and serve reopens.
//
// Audit. Every operation writes its own audit record (auditing.go): who
// (principal, access key, source, dialect, request id, from the Call),
// which key or keys, which operation, the Recipient's evidence summary
// (never a secret), the outcome and the error code the client sees
// (Call.WireError). An operation that uses a key or makes a secret answers
// only once its record is durable; one that changes the store (a key, an
// alias, a policy, a credential, offline ones included) commits the change
// with its record or neither (Service.change; package kms/audit's doc has
// the design); a read of public data is answered even when its record
// cannot be written. So while the log cannot be written, changes and secrets
// are refused (ErrInternal) and public reads go on; Ready says so, and the
// service resumes by itself once a write succeeds. What no operation ran (a
// dialect's own refusal) the dialects record with AuditRefusal; an error an
// operation recorded is Audited.
//
// kms knows nothing of HTTP or of which dialect called it: the dialects in
// api/ decode, authenticate and render.
//
// The store. What kms keeps — keys with every version of their material,
// aliases, credentials, the account and region, the audit change seq — is a
// store (package kms/internal/store, whose doc is the contract): typed
// records, read in View transactions or one at a time (Store.Key, the cold
// path behind the decoded-key cache, keycache.go), written only through
// Service.change, one Update per change with its audit record. Operations
// never see the implementation, which Open and Init (open.go) alone name
// (Options.Store): the embedded default is one bbolt file in the data
// directory (package kms/internal/store/bolt, the format attestkms has
// always written); a PostgreSQL database (package
// kms/internal/store/postgres) is shared by several nodes. Key material and
// credential secrets are sealed by kms before a record reaches the store.
// Maintain takes the store's lock "maintain", so that it runs once among the
// processes sharing a store.
//
// Several nodes. A node of a shared store keeps what is its own in its data
// directory (node.go): its audit log, one hash chain per node, whose change
// seq the store keeps under the node's id. Its caches — decoded keys with
// their state and policy, aliases, credentials — follow what other nodes
// change through the store's change notifications (follow.go), within a
// second; a node that loses them refuses every operation (ErrInternal) and
// is not Ready until they resume, rather than serve from a cache it can no
// longer trust.
//
// Authorisation (authorize.go) is the attestation gate, then the key policy
// and, for a caller whose credential carries one, its identity policy, by
// AWS's delegation rule (decide): a key policy Allow that names only the
// caller's account needs the identity policy's Allow too, and an explicit
// Deny in either wins.
//
// Each operation runs in one order: validate the request, load the key, check
// its state and usage, verify evidence, evaluate the policy, and only then
// make or open a secret. An operation that changes a key judges the policy of
// the record it changes, read in the transaction that commits the change
// (changeKey). Secrets it returns (plaintexts, data keys, shared secrets)
// belong to the caller, who zeroes them once sent.
//
// Threat model. Clients are authenticated before they reach this package, but
// everything they send is hostile: every field is bounded and validated, every
// ciphertext blob is authenticated before its plaintext is used, and an error
// never carries a secret. At rest, key material and credential secrets are
// sealed under the root key (package sealer): the database alone reveals only
// metadata. The root key (a file, an environment variable, or a key in a
// PKCS#11 token that never leaves it: rootspec.go, docs/rootkey.md) and the
// process's memory are trusted; whoever reads them, or can make the
// process ask the token, holds every key.
//
// One region. A Service has one region (Options.Region, recorded in the
// store), and every key and alias ARN names it: a key has one ARN whichever
// dialect asks and whatever region a request names, so that a policy naming
// that ARN cannot be sidestepped by naming another region. An ARN of another
// region or partition is not found. Moving a store to another region
// (Options.RenameRegion) rewrites the ARNs in its key policies (region.go).
//
// Destroyed keys: bbolt reuses freed pages but does not overwrite them, so
// kms compacts an embedded store after it destroys keys or deletes
// credentials, and after a root-key rotation (shred.go, rootrotate.go); a
// PostgreSQL store is the operator's to VACUUM FULL (docs/shredding.md).
package kms

// Package kms is attestkms's core: the key model, the encrypted store and the
// operations (CreateKey, Encrypt, Decrypt, GenerateDataKey, DeriveSharedSecret,
// aliases, key state, rotation, policy, tags). The audit log is package
// kms/audit; Service.AuditLog is the store's.
//
// Every operation takes a typed request and a *Call naming the authenticated
// caller, and returns a typed answer or an error wrapping one of the kinds in
// errors.go. It knows nothing of HTTP or of which dialect called it: the
// dialects in api/ decode, authenticate and render.
//
// Each operation runs in one order: validate the request, load the key, check
// its state and usage, and only then make or open a secret. Secrets it returns
// (plaintexts, data keys, shared secrets) belong to the caller, who zeroes them
// once sent.
//
// Threat model. Clients are authenticated before they reach this package, but
// everything they send is hostile: every field is bounded and validated, every
// ciphertext blob is authenticated before its plaintext is used, and an error
// never carries a secret. At rest, key material and credential secrets are
// sealed under the root key (package sealer): the database alone reveals only
// metadata. The root key file and the process's memory are trusted; whoever
// reads them holds every key.
//
// One region. A Service has one region (Options.Region, recorded in the
// store), and every key and alias ARN names it: a key has one ARN whichever
// dialect asks and whatever region a request names, so that a policy naming
// that ARN cannot be sidestepped by naming another region. An ARN of another
// region or partition is not found. Moving a store to another region
// (Options.RenameRegion) rewrites the ARNs in its key policies (region.go).
//
// Known limits: bbolt reuses freed pages but does not overwrite them, so the
// sealed material of a destroyed key may remain in free pages of kms.db until
// reused; it stays sealed under the root key.
package kms

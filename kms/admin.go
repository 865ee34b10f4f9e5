package kms

// Admin administers a store: its credentials (CreateCredential,
// ListCredentials, DeleteCredential, RotateCredential), its upkeep
// (Maintain) and its health (PolicyProblems). It is cmd/attestkms's, for
// whoever holds the store and its root key — serve maintains the store
// while it serves, the credential command manages access keys while it does
// not — and never a dialect's: it asks no caller for a permission.
// Credentials are managed on the running server through the admin API
// instead (api/admin), whose operations are Service's (CreateCredential,
// …), each allowed only to a caller whose credential has the admin
// permission; both share one implementation, and the running server's
// credential cache changes as each commits.
//
// An Admin shares its Service's store (one process holds a store at a time),
// so it is obtained from the open Service, and closes with it.
type Admin struct{ s *Service }

// Admin returns the administration of the service's store.
func (s *Service) Admin() *Admin { return &Admin{s: s} }

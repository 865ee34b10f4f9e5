package kms

// Admin administers a store: its credentials (CreateCredential,
// ListCredentials, DeleteCredential), its upkeep (Maintain) and its health
// (PolicyProblems). It is cmd/attestkms's — serve maintains the store while
// it serves, the credential command manages access keys while it does not —
// and never a dialect's: requests reach only the operations of Service.
//
// An Admin shares its Service's store (one process holds a store at a time),
// so it is obtained from the open Service, and closes with it.
type Admin struct{ s *Service }

// Admin returns the administration of the service's store.
func (s *Service) Admin() *Admin { return &Admin{s: s} }

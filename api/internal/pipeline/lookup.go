package pipeline

import "github.com/attestkms/attestkms/kms"

// lookup is one request's credential lookup, for its signature check: it
// hands the check a copy of the secret (kms.Credentials.Lookup gives one),
// remembers whose it was, and Wipe zeroes the copy once the check is done.
// The principal is the one the verifying lookup found, so a credential
// deleted after the check cannot leave the request without one, and there
// is one lookup per request.
type lookup struct {
	creds     *kms.Credentials
	id        string
	secret    []byte
	principal *kms.Principal
}

func newLookup(creds *kms.Credentials) *lookup { return &lookup{creds: creds} }

// Secret is the signature scheme's SecretLookup. The secret it returns is
// zeroed by the next call and by Wipe.
func (l *lookup) Secret(accessKeyID string) ([]byte, bool) {
	l.Wipe()
	secret, p, ok := l.creds.Lookup(accessKeyID)
	l.id, l.secret, l.principal = accessKeyID, secret, p
	return secret, ok
}

// Principal is the principal of accessKeyID as Secret found it, or
// ok=false if Secret did not find that key.
func (l *lookup) Principal(accessKeyID string) (*kms.Principal, bool) {
	if l.principal == nil || l.id != accessKeyID {
		return nil, false
	}
	return l.principal, true
}

// Wipe zeroes the secret Secret handed out.
func (l *lookup) Wipe() {
	clear(l.secret)
	l.secret = nil
}

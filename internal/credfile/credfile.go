// Package credfile is the credential file: the JSON object attestkms prints
// and saves for a new access key pair (init, serve's first start,
// credential create, admin-credential.json),
//
//	{"access_key_id":"AKIA...","secret_access_key":"...","account_id":"...","project_id":"..."}
//
// and the one reader of it for every program that signs with it
// (enclavetool --credential, kmsload --credential, the SDK examples).
//
// The file is the user's, not an attacker's, but it is read by tools that
// run beside untrusted hosts (enclavetool in an enclave whose parent is the
// attacker's), so Read bounds what it reads and says what is wrong without
// ever repeating the secret.
package credfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxSize bounds a credential file: attestkms writes about 200 bytes.
const MaxSize = 64 << 10

// Credential is an access key pair, with the account it belongs to. The
// same pair signs requests of every dialect; ProjectID is what Huawei's SDK
// names the account.
type Credential struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	AccountID       string `json:"account_id"`
	ProjectID       string `json:"project_id"`
}

// Marshal is the file's content, as attestkms prints it: indented JSON and a
// final newline.
func (c *Credential) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	return append(b, '\n'), err
}

// ErrNotCredential: the file is not a credential file (not one JSON object,
// or without an access key id or a secret).
var ErrNotCredential = errors.New("not an attestkms credential file")

// Read reads the credential file at path: at most MaxSize bytes of one JSON
// object whose access_key_id and secret_access_key are not empty (other
// fields, and unknown ones, may be absent). Errors name path, never the
// secret; a malformed file's wrap ErrNotCredential.
func Read(path string) (*Credential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s: more than %d bytes, larger than any credential file", path, MaxSize)
	}
	defer clear(b)
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a credential file's content, as Read does.
func Parse(b []byte) (*Credential, error) {
	var c Credential
	if err := json.Unmarshal(b, &c); err != nil {
		// json's syntax errors name one offending character and an offset;
		// its type errors, a field and a Go type: never a value.
		return nil, fmt.Errorf("%w: %v", ErrNotCredential, err)
	}
	switch {
	case c.AccessKeyID == "":
		return nil, fmt.Errorf("%w: no access_key_id", ErrNotCredential)
	case c.SecretAccessKey == "":
		return nil, fmt.Errorf("%w: no secret_access_key", ErrNotCredential)
	}
	return &c, nil
}

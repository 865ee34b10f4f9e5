package enclave

import (
	"context"
	"errors"
)

// Session gets secrets from attestkms for this enclave: every request carries
// a fresh attestation document for Key, and every secret comes back wrapped
// to Key.
type Session struct {
	Client   *Client
	Attestor Attestor
	Key      *Key
	// KeepCiphertext, if set, sees each CiphertextForRecipient before it is
	// unwrapped (enclavetool --keep-ciphertext saves them for inspection with
	// openssl cms).
	KeepCiphertext func(op string, cfr []byte)
}

type recipientJSON struct {
	AttestationDocument    []byte
	KeyEncryptionAlgorithm string
	PublicKey              []byte `json:",omitempty"` // attestkms's extension: the ML-KEM key (docs/hpke.md)
}

func (s *Session) recipient() (*recipientJSON, error) {
	doc, err := s.Attestor.Attest(s.Key.der, nil, nil)
	if err != nil {
		return nil, err
	}
	return &recipientJSON{AttestationDocument: doc, KeyEncryptionAlgorithm: s.Key.alg, PublicKey: s.Key.pub}, nil
}

var errNoCiphertext = errors.New("attestkms answered without CiphertextForRecipient")

// unwrap opens the answer to op: keyARN is the answer's KeyId, r the
// Recipient we sent (its document is in an HPKE answer's info).
func (s *Session) unwrap(op, keyARN string, r *recipientJSON, cfr []byte) ([]byte, error) {
	if len(cfr) == 0 {
		return nil, errNoCiphertext
	}
	if s.KeepCiphertext != nil {
		s.KeepCiphertext(op, cfr)
	}
	return s.Key.Unwrap(op, keyARN, r.AttestationDocument, cfr)
}

// DataKey is a data key: Plaintext for use here, CiphertextBlob to store.
type DataKey struct {
	Plaintext      []byte
	CiphertextBlob []byte
	KeyID          string
}

// GenerateDataKey asks for a data key under keyID: keySpec "AES_256" or
// "AES_128", or numberOfBytes.
func (s *Session) GenerateDataKey(ctx context.Context, keyID, keySpec string, numberOfBytes int, ec map[string]string) (*DataKey, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		KeyId             string
		KeySpec           string            `json:",omitempty"`
		NumberOfBytes     int               `json:",omitempty"`
		EncryptionContext map[string]string `json:",omitempty"`
		Recipient         *recipientJSON
	}{keyID, keySpec, numberOfBytes, ec, r}
	var out struct {
		CiphertextBlob, CiphertextForRecipient []byte
		KeyId                                  string
	}
	if err := s.Client.Call(ctx, "GenerateDataKey", in, &out); err != nil {
		return nil, err
	}
	const op = "GenerateDataKey"
	pt, err := s.unwrap(op, out.KeyId, r, out.CiphertextForRecipient)
	if err != nil {
		return nil, err
	}
	return &DataKey{Plaintext: pt, CiphertextBlob: out.CiphertextBlob, KeyID: out.KeyId}, nil
}

// Decrypt asks attestkms to decrypt a ciphertext blob for this enclave.
func (s *Session) Decrypt(ctx context.Context, blob []byte, keyID string, ec map[string]string) ([]byte, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		CiphertextBlob    []byte
		KeyId             string            `json:",omitempty"`
		EncryptionContext map[string]string `json:",omitempty"`
		Recipient         *recipientJSON
	}{blob, keyID, ec, r}
	var out struct {
		CiphertextForRecipient []byte
		KeyId                  string
	}
	if err := s.Client.Call(ctx, "Decrypt", in, &out); err != nil {
		return nil, err
	}
	const op = "Decrypt"
	return s.unwrap(op, out.KeyId, r, out.CiphertextForRecipient)
}

// GenerateRandom asks for n random bytes.
func (s *Session) GenerateRandom(ctx context.Context, n int) ([]byte, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		NumberOfBytes int
		Recipient     *recipientJSON
	}{n, r}
	var out struct{ CiphertextForRecipient []byte }
	if err := s.Client.Call(ctx, "GenerateRandom", in, &out); err != nil {
		return nil, err
	}
	const op = "GenerateRandom"
	return s.unwrap(op, "", r, out.CiphertextForRecipient)
}

// DeriveSharedSecret asks for the ECDH secret of keyID and the peer's public
// key (DER SubjectPublicKeyInfo): the raw x-coordinate, to be run through a KDF.
func (s *Session) DeriveSharedSecret(ctx context.Context, keyID string, peerSPKI []byte) ([]byte, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		KeyId                 string
		KeyAgreementAlgorithm string
		PublicKey             []byte
		Recipient             *recipientJSON
	}{keyID, "ECDH", peerSPKI, r}
	var out struct {
		CiphertextForRecipient []byte
		KeyId                  string
	}
	if err := s.Client.Call(ctx, "DeriveSharedSecret", in, &out); err != nil {
		return nil, err
	}
	const op = "DeriveSharedSecret"
	return s.unwrap(op, out.KeyId, r, out.CiphertextForRecipient)
}

// DataKeyPair is a data key pair: the private key (PKCS#8) for use here, the
// public key (SubjectPublicKeyInfo) and the private key's ciphertext blob.
type DataKeyPair struct {
	PrivateKey               []byte
	PublicKey                []byte
	PrivateKeyCiphertextBlob []byte
	KeyID                    string
}

// GenerateDataKeyPair asks for a key pair (e.g. "ECC_NIST_P256", "RSA_2048").
func (s *Session) GenerateDataKeyPair(ctx context.Context, keyID, keyPairSpec string, ec map[string]string) (*DataKeyPair, error) {
	r, err := s.recipient()
	if err != nil {
		return nil, err
	}
	in := struct {
		KeyId             string
		KeyPairSpec       string
		EncryptionContext map[string]string `json:",omitempty"`
		Recipient         *recipientJSON
	}{keyID, keyPairSpec, ec, r}
	var out struct {
		CiphertextForRecipient, PublicKey, PrivateKeyCiphertextBlob []byte
		KeyId                                                       string
	}
	if err := s.Client.Call(ctx, "GenerateDataKeyPair", in, &out); err != nil {
		return nil, err
	}
	const op = "GenerateDataKeyPair"
	priv, err := s.unwrap(op, out.KeyId, r, out.CiphertextForRecipient)
	if err != nil {
		return nil, err
	}
	return &DataKeyPair{PrivateKey: priv, PublicKey: out.PublicKey, PrivateKeyCiphertextBlob: out.PrivateKeyCiphertextBlob, KeyID: out.KeyId}, nil
}

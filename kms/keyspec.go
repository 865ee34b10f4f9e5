package kms

import "github.com/attestkms/attestkms/kms/internal/eckeys"

// KeySpec is the type of a KMS key's material, named as AWS KMS names it.
type KeySpec string

const (
	SymmetricDefault KeySpec = "SYMMETRIC_DEFAULT" // AES-256-GCM
	EccNistP256      KeySpec = "ECC_NIST_P256"
	EccNistP384      KeySpec = "ECC_NIST_P384"
	EccNistP521      KeySpec = "ECC_NIST_P521"
	EccSecgP256k1    KeySpec = "ECC_SECG_P256K1"
	// Sm2 is the Chinese SM2 curve (GM/T 0003), for KEY_AGREEMENT, as AWS KMS
	// names it in China regions and Huawei's seed needs it.
	Sm2 KeySpec = "SM2"
)

// KeyUsage is what a KMS key may be used for.
type KeyUsage string

const (
	EncryptDecrypt KeyUsage = "ENCRYPT_DECRYPT"
	KeyAgreement   KeyUsage = "KEY_AGREEMENT"
)

// KeyState is the lifecycle state of a KMS key.
type KeyState string

const (
	Enabled         KeyState = "Enabled"
	Disabled        KeyState = "Disabled"
	PendingDeletion KeyState = "PendingDeletion"
)

// keySpecInfo says what a KeySpec is and which usages it allows.
type keySpecInfo struct {
	symmetric bool
	curve     eckeys.Curve // for KEY_AGREEMENT keys
	usages    []KeyUsage
}

var keySpecs = map[KeySpec]keySpecInfo{
	SymmetricDefault: {symmetric: true, usages: []KeyUsage{EncryptDecrypt}},
	EccNistP256:      {curve: eckeys.P256, usages: []KeyUsage{KeyAgreement}},
	EccNistP384:      {curve: eckeys.P384, usages: []KeyUsage{KeyAgreement}},
	EccNistP521:      {curve: eckeys.P521, usages: []KeyUsage{KeyAgreement}},
	EccSecgP256k1:    {curve: eckeys.Secp256k1, usages: []KeyUsage{KeyAgreement}},
	Sm2:              {curve: eckeys.SM2, usages: []KeyUsage{KeyAgreement}},
}

// DataKeyPairSpec is the type of a data key pair from GenerateDataKeyPair.
type DataKeyPairSpec string

const (
	PairRSA2048       DataKeyPairSpec = "RSA_2048"
	PairRSA3072       DataKeyPairSpec = "RSA_3072"
	PairRSA4096       DataKeyPairSpec = "RSA_4096"
	PairEccNistP256   DataKeyPairSpec = "ECC_NIST_P256"
	PairEccNistP384   DataKeyPairSpec = "ECC_NIST_P384"
	PairEccNistP521   DataKeyPairSpec = "ECC_NIST_P521"
	PairEccSecgP256k1 DataKeyPairSpec = "ECC_SECG_P256K1"
)

// Algorithm names used in requests and key metadata.
const (
	AlgSymmetricDefault = "SYMMETRIC_DEFAULT"
	AlgECDH             = "ECDH"
)

// Origin and manager of every key attestkms holds.
const (
	OriginAWSKMS       = "AWS_KMS"
	KeyManagerCustomer = "CUSTOMER"
)

package policy

import (
	"strings"

	"github.com/attestkms/attestkms/attest"
)

// The condition keys attestkms evaluates. The set is closed: Parse refuses a
// policy that names any other key, because a key the server never puts in a
// request's context is absent from every request, and a condition on an
// absent key decides silently (a Deny on aws:SourceVpc would never apply; a
// misspelt measurement would never be required).
//
// Each key has a type, and each operator applies to some types only, so that
// "IpAddress on kms:CallerAccount" is refused rather than never matching.

// keyType is what a condition key's values are.
type keyType uint8

const (
	typeString keyType = iota // String* operators
	typeARN                   // String* and Arn* operators
	typeBool                  // Bool
	typeIP                    // IpAddress, NotIpAddress
	typeDate                  // Date*: RFC 3339 time
	typeEpoch                 // Date* and Numeric*: seconds since 1970
)

func (t keyType) String() string {
	switch t {
	case typeARN:
		return "an ARN"
	case typeBool:
		return "a boolean"
	case typeIP:
		return "an IP address"
	case typeDate:
		return "a date"
	case typeEpoch:
		return "a number of seconds since 1970"
	}
	return "a string"
}

// Keys, as the server spells them in a request's context (kms/authorize.go).
const (
	KeySecureTransport   = "aws:SecureTransport"
	KeySourceIP          = "aws:SourceIp"
	KeyCurrentTime       = "aws:CurrentTime"
	KeyEpochTime         = "aws:EpochTime"
	KeyPrincipalArn      = "aws:PrincipalArn"
	KeyRequestedRegion   = "aws:RequestedRegion"
	KeyCallerAccount     = "kms:CallerAccount"
	KeyEncryptionContext = "kms:EncryptionContext:" // + the context key
	KeyContextKeys       = "kms:EncryptionContextKeys"
	KeyKeySpec           = "kms:KeySpec"
	KeyKeyUsage          = "kms:KeyUsage"
	KeyKeyOrigin         = "kms:KeyOrigin"
	KeyRequestAlias      = "kms:RequestAlias"
	KeyResourceAliases   = "kms:ResourceAliases" // multivalued: every alias of the key
)

// fixedKeys are the keys without a variable part, by lower-case name.
var fixedKeys = map[string]keyInfo{}

func init() {
	for name, t := range map[string]keyType{
		KeySecureTransport: typeBool,
		KeySourceIP:        typeIP,
		KeyCurrentTime:     typeDate,
		KeyEpochTime:       typeEpoch,
		KeyPrincipalArn:    typeARN,
		KeyRequestedRegion: typeString,
		KeyCallerAccount:   typeString,
		KeyContextKeys:     typeString,
		KeyKeySpec:         typeString,
		KeyKeyUsage:        typeString,
		KeyKeyOrigin:       typeString,
		KeyRequestAlias:    typeString,
		KeyResourceAliases: typeString,
	} {
		fixedKeys[strings.ToLower(name)] = keyInfo{typ: t, canonical: name}
	}
}

// keyInfo is what Parse knows of a condition key.
type keyInfo struct {
	typ keyType
	// attestation: a kms:RecipientAttestation measurement. Its values are
	// hex or format names and compare without regard to case.
	attestation bool
	canonical   string // the key as the server spells it
}

// lookupKey finds a condition key, named in any ASCII case.
func lookupKey(key string) (keyInfo, bool) {
	if k, ok := fixedKeys[asciiLower(key)]; ok {
		return k, true
	}
	if len(key) > len(KeyEncryptionContext) && asciiEqualFold(key[:len(KeyEncryptionContext)], KeyEncryptionContext) {
		return keyInfo{typ: typeString, canonical: KeyEncryptionContext + key[len(KeyEncryptionContext):]}, true
	}
	if name, ok := attest.IsConditionKey(key); ok {
		return keyInfo{typ: typeString, attestation: true, canonical: name}, true
	}
	return keyInfo{}, false
}

// unknownKeyHint explains why a key is refused, naming the nearest thing
// attestkms does know.
func unknownKeyHint(key string) string {
	switch {
	case attest.IsAttestationKey(key):
		return "not a measurement any evidence gives: kms:RecipientAttestation:Format, :ImageSha384 and :PCR0-:PCR31 (Nitro), " +
			"kms:RecipientAttestation/PCR0-/PCR31 (Qingtian), :SnpMeasurement, :SnpHostData (SEV-SNP), :TpmPCR0-:TpmPCR23 (TPM 2.0), " +
			":NitroTPMPCR0-:NitroTPMPCR23 (AWS NitroTPM), :TdxMrTd, :TdxRtmr0-:TdxRtmr3, :TdxMrConfigId, :TdxTcbStatus (Intel TDX)"
	case len(key) >= 4 && asciiEqualFold(key[:4], "kms:"), len(key) >= 4 && asciiEqualFold(key[:4], "aws:"):
		return "attestkms does not evaluate it, so a condition on it would never be met: it evaluates " +
			"aws:SecureTransport, aws:SourceIp, aws:CurrentTime, aws:EpochTime, aws:PrincipalArn, aws:RequestedRegion, " +
			"kms:CallerAccount, kms:EncryptionContext:<key>, kms:EncryptionContextKeys, kms:KeySpec, kms:KeyUsage, " +
			"kms:KeyOrigin, kms:RequestAlias, kms:ResourceAliases and kms:RecipientAttestation measurements"
	}
	return "attestkms does not evaluate it, so a condition on it would never be met"
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

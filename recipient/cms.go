package recipient

import "crypto/aes"

// The CMS EnvelopedData both sides of this package speak (the package doc
// draws it): WrapCMS writes it on the server (wrapcms.go), UnwrapCMS reads
// it, as hostile input, in the enclave (unwrapcms.go, with the BER reader of
// ber.go). This file holds what the two share: the identifiers, tags,
// versions and sizes of that one shape.

// Object identifiers, as the contents of their DER encoding.
var (
	oidEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03} // 1.2.840.113549.1.7.3
	oidData          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01} // 1.2.840.113549.1.7.1
	oidRSAESOAEP     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07} // 1.2.840.113549.1.1.7
	oidMGF1          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08} // 1.2.840.113549.1.1.8
	oidSHA256        = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01} // 2.16.840.1.101.3.4.2.1
	oidAES256CBC     = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a} // 2.16.840.1.101.3.4.1.42
)

// Identifier octets, each with its class and constructed bit.
const (
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagSequence    = 0x30 // constructed
	tagSet         = 0x31 // constructed
	tagContext0    = 0x80 // [0] primitive (IMPLICIT of a primitive type)
	tagContext0C   = 0xa0 // [0] constructed (EXPLICIT, or IMPLICIT of a constructed encoding)
	tagContext1C   = 0xa1 // [1] constructed
	tagConstructed = 0x20
)

// Versions: 2 for an EnvelopedData whose recipient is named by subject key
// identifier, and 2 for that KeyTransRecipientInfo (RFC 5652, 6.1 and 6.2.1).
const (
	envelopedDataVersion = 2
	ktriVersion          = 2
)

const (
	cekSize = 32 // AES-256
	ivSize  = aes.BlockSize
)

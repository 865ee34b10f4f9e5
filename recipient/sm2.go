package recipient

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"io"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The two SM2 ciphertext forms of WrapTo. SM2 public-key encryption (GB/T
// 32918.4) makes three parts: C1 = k·G, the ephemeral point; C3 =
// SM3(x2 || M || y2), 32 bytes; C2 = M XOR KDF(x2 || y2), as long as M. The
// standard leaves their encoding to the parties, and Tencent names two:
//
//	SM2              x1 || y1 || C3 || C2           raw, 96 + len(M) bytes
//	SM2_C1C3C2_ASN1  SEQUENCE { INTEGER x1, INTEGER y1,
//	                   OCTET STRING C3, OCTET STRING C2 }   (GM/T 0009 SM2Cipher)
//
// Whether the raw form's C1 starts with the SEC 1 byte 0x04 is the one thing
// Tencent's documentation ("SM2 (以 C1C3C2 格式返回密文)") does not say, and
// libraries disagree: gmsm's sm2.Encrypt writes 04 || x1 || y1 || C3 || C2
// and its sm2.Decrypt requires a leading 0x04, 0x02 or 0x03 (or 0x30 for
// ASN.1); tjfoc/gmsm writes the 0x04 too and strips the first byte unread on
// decryption. We write it WITHOUT the 0x04, 64 bytes of C1, because that is
// what "C1C3C2" means in Tencent's own SM code, the evidence closest to what
// its KMS emits:
//
//   - TencentSM, Tencent's SM2/SM3/SM4 library ("Tencent SM (Lite Version)",
//     sm.c, SM2EncryptWithMode), has distinct modes SM2CipherMode_C1C3C2,
//     which writes x1 || y1 || C3 || C2 (a memcpy of the 64-byte C1, no
//     prefix), and SM2CipherMode_04C1C3C2, which writes 0x04 first. The same
//     enum is in its Go and Python bindings and in Tencent's WeChat client
//     code. In Tencent's vocabulary "C1C3C2" is the form without 0x04.
//   - easy_gmssl, whose author's tutorials use it with Tencent KMS's
//     EncryptionPublicKey, reads its C1C3C2 mode with C1 as 64 bytes
//     ("C1固定为64字节"): x1 at offset 0.
//
// We hold no raw SM2 response captured from Tencent itself to settle it. A
// client whose library wants the 0x04 (gmsm's sm2.Decrypt, tjfoc's) prepends
// it; the tests decrypt ours with gmsm exactly so. The ASN.1 form has no such
// question: its INTEGERs carry no prefix.

// sealSM2 encrypts with gmsm (constant-time scalar multiplications) and
// encodes in the form asked for. It works around two faults of gmsm v0.33.0:
//
//   - When the KDF's mask t is all zeros (once in 256 encryptions of a 1-byte
//     secret), GB/T 32918.4 says to draw a new ephemeral scalar, and gmsm's
//     encryptSM2EC does, but its first draw has overwritten the public point
//     (Q.ScalarMult(Q, k)): the ciphertext it then returns decrypts under no
//     key. So each attempt gets exactly one scalar's worth of randomness
//     (oneDraw); an attempt that asks for more fails, and we draw afresh.
//   - gmsm's sm2.Decrypt (and the clients built on it) refuses a ciphertext
//     whose C2 is all zeros (the secret equal to t), testing C2 where the
//     standard tests t. We draw afresh then too, so that every ciphertext we
//     make decrypts with gmsm. Which C2 is refused is a property of the
//     ciphertext alone: the redraw tells nothing of the secret.
func sealSM2(pub *ecdsa.PublicKey, asn1Form bool, secret []byte, rand io.Reader) ([]byte, error) {
	for range maxSM2Draws {
		seed := make([]byte, sm2ScalarSize)
		if _, err := io.ReadFull(rand, seed); err != nil {
			return nil, fmt.Errorf("sm2 encryption: %w", err)
		}
		draw := bytes.NewReader(seed)
		ct, c2, err := sealSM2Once(pub, asn1Form, secret, draw)
		clear(seed)
		switch {
		case err != nil && draw.Len() == 0:
			continue // gmsm wanted a second scalar: t was all zeros
		case err != nil:
			return nil, err
		case !allZero(c2):
			return ct, nil
		}
	}
	return nil, fmt.Errorf("sm2 encryption: no valid ephemeral scalar in %d draws", maxSM2Draws)
}

// sm2ScalarSize is what gmsm reads for one ephemeral scalar (randomPoint:
// the order's size).
const sm2ScalarSize = 32

// maxSM2Draws bounds sealSM2's draws: a 1-byte secret needs a second once in
// 128 (t or C2 all zeros), a third once in 16384.
const maxSM2Draws = 8

func allZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return acc == 0
}

// sealSM2Once is one encryption: the ciphertext in the form asked for, and
// its C2.
func sealSM2Once(pub *ecdsa.PublicKey, asn1Form bool, secret []byte, rand io.Reader) (ct, c2 []byte, err error) {
	if asn1Form {
		ct, err := sm2.EncryptASN1(rand, pub, secret)
		if err != nil {
			return nil, nil, fmt.Errorf("sm2 encryption: %w", err)
		}
		raw, err := parseSM2Cipher(ct)
		if err != nil {
			return nil, nil, fmt.Errorf("sm2 encryption: gmsm wrote an SM2Cipher we cannot read: %w", err)
		}
		return ct, raw[sm2RawOverhead:], nil
	}
	ct, err = sm2.Encrypt(rand, pub, secret, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
	if err != nil {
		return nil, nil, fmt.Errorf("sm2 encryption: %w", err)
	}
	// gmsm writes 0x04 || x1 || y1 || C3 || C2; Tencent's C1C3C2 has no 0x04.
	if len(ct) != 1+sm2RawOverhead+len(secret) || ct[0] != 4 {
		return nil, nil, fmt.Errorf("sm2 encryption: gmsm wrote %d bytes, want 0x04 and %d more", len(ct), sm2RawOverhead+len(secret))
	}
	return ct[1:], ct[1+sm2RawOverhead:], nil
}

// sm2RawOverhead is what the raw form adds to the secret: x1, y1 and C3.
const sm2RawOverhead = 32 + 32 + sm3.Size

// openSM2 reads either form strictly, checks that C1 is a point on the
// curve, and has gmsm decrypt the equivalent 0x04-prefixed raw form.
func openSM2(priv *sm2.PrivateKey, asn1Form bool, ct []byte) ([]byte, error) {
	if len(ct) > sm2RawOverhead+maxSM2Secret+16 { // 16: the ASN.1 headers, with room
		return nil, fmt.Errorf("%w: SM2 ciphertext of %d bytes, longer than any WrapTo makes", ErrMalformed, len(ct))
	}
	raw := ct
	if asn1Form {
		var err error
		if raw, err = parseSM2Cipher(ct); err != nil {
			return nil, err
		}
	}
	if len(raw) <= sm2RawOverhead {
		return nil, fmt.Errorf("%w: SM2 ciphertext of %d bytes, want more than %d", ErrMalformed, len(raw), sm2RawOverhead)
	}
	prefixed := append([]byte{4}, raw...)
	if _, err := sm2.NewPublicKey(prefixed[:65]); err != nil {
		return nil, fmt.Errorf("%w: SM2 C1 is not a point on the curve", ErrMalformed)
	}
	secret, err := sm2.Decrypt(priv, prefixed)
	if err != nil {
		return nil, fmt.Errorf("%w: sm2", ErrDecrypt)
	}
	return secret, nil
}

// parseSM2Cipher reads GM/T 0009's SM2Cipher in DER (cryptobyte refuses BER
// and non-minimal INTEGERs) and returns the raw form x1 || y1 || C3 || C2.
func parseSM2Cipher(der []byte) ([]byte, error) {
	input := cryptobyte.String(der)
	var seq, c3, c2 cryptobyte.String
	x, y := new(big.Int), new(big.Int)
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) || !input.Empty() ||
		!seq.ReadASN1Integer(x) || !seq.ReadASN1Integer(y) ||
		!seq.ReadASN1(&c3, cbasn1.OCTET_STRING) || !seq.ReadASN1(&c2, cbasn1.OCTET_STRING) || !seq.Empty() {
		return nil, fmt.Errorf("%w: not a DER SM2Cipher SEQUENCE { x, y, C3, C2 }", ErrMalformed)
	}
	switch {
	case x.Sign() < 0 || y.Sign() < 0 || x.BitLen() > 256 || y.BitLen() > 256:
		return nil, fmt.Errorf("%w: SM2Cipher coordinate out of range", ErrMalformed)
	case len(c3) != sm3.Size:
		return nil, fmt.Errorf("%w: SM2Cipher C3 of %d bytes, want %d", ErrMalformed, len(c3), sm3.Size)
	case len(c2) == 0:
		return nil, fmt.Errorf("%w: SM2Cipher with an empty C2", ErrMalformed)
	}
	raw := make([]byte, 64, sm2RawOverhead+len(c2))
	x.FillBytes(raw[:32])
	y.FillBytes(raw[32:64])
	raw = append(raw, c3...)
	return append(raw, c2...), nil
}

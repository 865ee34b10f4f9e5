package enclave

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// NitroTPM is the Attestor of an EC2 instance with NitroTPM: it gets an AWS
// NitroTPM attestation document, as AWS's nitro-tpm-attest does, through the
// TPM's AWS vendor command, which hands an NSM request to the Nitro
// hypervisor:
//
//  1. an RSA-2048 endorsement key from the TCG default template (made in
//     the endorsement hierarchy; flushed at the end);
//  2. a salted HMAC session, SHA-512, its salt encrypted to that key;
//  3. an NV index (owner hierarchy, authorised by a random value,
//     AUTHREAD|AUTHWRITE, 8 KiB) holding the NSM request, CBOR
//     {"Attestation": {"user_data", "nonce", "public_key"}};
//  4. the vendor command TPM2_CC 0x20000001 on that index (twice: its auth
//     and the index), authorised through the session, after which the
//     index holds the NSM response {"Attestation": {"document": bytes}} or
//     {"Error": code};
//  5. the index read back and undefined, the session and the key flushed.
//
// The document it returns binds publicKeyDER, nonce and userData (each
// null when empty); attestkms verifies it as a NitroTPM document (format
// nitrotpm, condition keys NitroTPMPCR0-23).
type NitroTPM struct {
	// Open opens the TPM; nil opens /dev/tpm0 on Linux, as nitro-tpm-attest
	// does (the vendor command goes to the TPM itself, not through the
	// kernel's resource manager).
	Open func() (transport.TPMCloser, error)
	// BufferSize is the NV index's size; zero means 8192, nitro-tpm-attest's
	// (a document is about 5 KiB, and user data, nonce and key 1 KiB each).
	BufferSize int

	// rand, when not nil, replaces crypto/rand (tests).
	rand io.Reader
	// sawSalt, when not nil, is told the session's salt (tests: a fake
	// vendor command checks the authorisation with it).
	sawSalt func([]byte)
}

// TPMCCAWSNSMRequest is AWS's vendor command: it sends the NSM request in
// an NV index to the Nitro hypervisor and writes the response back there.
const TPMCCAWSNSMRequest tpm2.TPMCC = 0x20000001

const (
	defaultNSMBuffer = 8192
	nvFirst          = 0x01000000 // TPM_HT_NV_INDEX's first handle
	nvTries          = 64         // indices tried when another process holds one
	nvChunk          = 512        // below every TPM's MAX_NV_BUFFER_SIZE
	nsmNonceSize     = 64         // SHA-512's size, as nitro-tpm-attest uses
)

// nsmRequest is the NSM API's Attestation request, as serde encodes it.
type nsmRequest struct {
	Attestation nsmAttestation `cbor:"Attestation"`
}

type nsmAttestation struct {
	UserData  []byte `cbor:"user_data"`
	Nonce     []byte `cbor:"nonce"`
	PublicKey []byte `cbor:"public_key"`
}

// encodeNSMRequest encodes the request; an empty field is null.
func encodeNSMRequest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	null := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	em, err := cbor.EncOptions{NilContainers: cbor.NilContainerAsNull}.EncMode()
	if err != nil {
		return nil, err
	}
	return em.Marshal(nsmRequest{nsmAttestation{UserData: null(userData), Nonce: null(nonce), PublicKey: null(publicKeyDER)}})
}

// decodeNSMResponse reads the NSM response at the start of buf (the rest of
// the NV index is whatever it held): the document, or the NSM's error.
func decodeNSMResponse(buf []byte) ([]byte, error) {
	var rsp map[string]cbor.RawMessage
	if _, err := cbor.UnmarshalFirst(buf, &rsp); err != nil {
		return nil, fmt.Errorf("the NSM response is not CBOR: %w", err)
	}
	if e, ok := rsp["Error"]; ok {
		var code any
		cbor.Unmarshal(e, &code)
		return nil, fmt.Errorf("the NSM refused the attestation request: %v", code)
	}
	a, ok := rsp["Attestation"]
	if !ok || len(rsp) != 1 {
		return nil, errors.New("the NSM response is not an Attestation response")
	}
	var att struct {
		Document cbor.RawMessage `cbor:"document"`
	}
	if err := cbor.Unmarshal(a, &att); err != nil || att.Document == nil {
		return nil, errors.New("the NSM's Attestation response has no document")
	}
	// serde writes a Vec<u8> as a byte string with serde_bytes, else as an
	// array of integers: take either.
	var doc []byte
	if err := cbor.Unmarshal(att.Document, &doc); err != nil {
		var ints []uint8
		if err2 := cbor.Unmarshal(att.Document, &ints); err2 != nil {
			return nil, fmt.Errorf("the NSM's document is neither bytes nor an array of bytes: %v", err)
		}
		doc = ints
	}
	if len(doc) == 0 {
		return nil, errors.New("the NSM returned an empty document")
	}
	return doc, nil
}

// Attest implements Attestor.
func (a NitroTPM) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	req, err := encodeNSMRequest(publicKeyDER, nonce, userData)
	if err != nil {
		return nil, err
	}
	size := a.BufferSize
	if size == 0 {
		size = defaultNSMBuffer
	}
	if len(req) > size {
		return nil, fmt.Errorf("the NSM request is %d bytes, more than the %d-byte buffer", len(req), size)
	}
	rnd := a.rand
	if rnd == nil {
		rnd = rand.Reader
	}
	open := a.Open
	if open == nil {
		open = openNitroTPM
	}
	t, err := open()
	if err != nil {
		return nil, fmt.Errorf("opening the TPM: %w", err)
	}
	defer t.Close()

	// 1. The endorsement key, to salt the session with.
	ek, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(tpm2.RSAEKTemplate)}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("creating the endorsement key: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: ek.ObjectHandle}.Execute(t)
	ekPub, err := ek.OutPublic.Contents()
	if err != nil {
		return nil, err
	}
	kem, err := tpm2.ImportEncapsulationKey(ekPub)
	if err != nil {
		return nil, fmt.Errorf("the endorsement key: %w", err)
	}

	// 2. The salted HMAC session.
	salt, encSalt, err := tpm2.CreateEncryptedSalt(rnd, kem)
	if err != nil {
		return nil, fmt.Errorf("encrypting the session salt: %w", err)
	}
	if a.sawSalt != nil {
		a.sawSalt(salt)
	}
	nonceCaller := make([]byte, nsmNonceSize)
	if _, err := io.ReadFull(rnd, nonceCaller); err != nil {
		return nil, err
	}
	sess, err := tpm2.StartAuthSession{
		TPMKey: ek.ObjectHandle, Bind: tpm2.TPMRHNull,
		NonceCaller:   tpm2.TPM2BNonce{Buffer: nonceCaller},
		EncryptedSalt: tpm2.TPM2BEncryptedSecret{Buffer: encSalt},
		SessionType:   tpm2.TPMSEHMAC,
		Symmetric:     tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		AuthHash:      tpm2.TPMAlgSHA512,
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("starting the salted session: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: sess.SessionHandle}.Execute(t)
	sessionKey := tpm2.KDFa(crypto.SHA512, salt, "ATH", sess.NonceTPM.Buffer, nonceCaller, 512)
	clear(salt)

	// 3. The message buffer, holding the request.
	auth := make([]byte, sha512.Size)
	if _, err := io.ReadFull(rnd, auth); err != nil {
		return nil, err
	}
	auth[len(auth)-1] |= 1 // the TPM drops an auth value's trailing zeros
	index, err := defineNSMBuffer(t, auth, size)
	if err != nil {
		return nil, err
	}
	defer tpm2.NVUndefineSpace{AuthHandle: tpm2.TPMRHOwner, NVIndex: index}.Execute(t)
	if err := nvWriteAll(t, index, auth, req); err != nil {
		return nil, err
	}
	// The index's name changes once written (TPMA_NV_WRITTEN): read it now.
	pub, err := tpm2.NVReadPublic{NVIndex: index.Handle}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_NV_ReadPublic: %w", err)
	}
	index.Name = pub.NVName

	// 4. The vendor command.
	nonceCaller2 := make([]byte, nsmNonceSize)
	if _, err := io.ReadFull(rnd, nonceCaller2); err != nil {
		return nil, err
	}
	cmd := nsmRequestCommand(uint32(sess.SessionHandle), uint32(index.Handle), index.Name.Buffer, sessionKey, auth, nonceCaller2, sess.NonceTPM.Buffer)
	rsp, err := t.Send(cmd)
	if err != nil {
		return nil, fmt.Errorf("the AWS NSM vendor command: %w", err)
	}
	if err := responseCode(rsp); err != nil {
		return nil, fmt.Errorf("the AWS NSM vendor command (is this an EC2 instance with NitroTPM?): %w", err)
	}

	// 5. The response.
	buf, err := nvReadAll(t, index, auth, size)
	if err != nil {
		return nil, err
	}
	return decodeNSMResponse(buf)
}

// defineNSMBuffer defines the message buffer at the first free NV index.
func defineNSMBuffer(t transport.TPM, auth []byte, size int) (tpm2.NamedHandle, error) {
	for i := range nvTries {
		h := tpm2.TPMHandle(nvFirst + i)
		_, err := tpm2.NVDefineSpace{
			AuthHandle: tpm2.TPMRHOwner,
			Auth:       tpm2.TPM2BAuth{Buffer: auth},
			PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
				NVIndex: h, NameAlg: tpm2.TPMAlgSHA512,
				Attributes: tpm2.TPMANV{AuthRead: true, AuthWrite: true, NT: tpm2.TPMNTOrdinary},
				DataSize:   uint16(size),
			}),
		}.Execute(t)
		if errors.Is(err, tpm2.TPMRCNVDefined) {
			continue
		}
		if err != nil {
			return tpm2.NamedHandle{}, fmt.Errorf("defining the NV message buffer: %w", err)
		}
		pub, err := tpm2.NVReadPublic{NVIndex: h}.Execute(t)
		if err != nil {
			return tpm2.NamedHandle{}, err
		}
		return tpm2.NamedHandle{Handle: h, Name: pub.NVName}, nil
	}
	return tpm2.NamedHandle{}, fmt.Errorf("no free NV index among the first %d", nvTries)
}

func nvWriteAll(t transport.TPM, index tpm2.NamedHandle, auth, data []byte) error {
	for off := 0; off < len(data); off += nvChunk {
		end := min(off+nvChunk, len(data))
		_, err := tpm2.NVWrite{
			AuthHandle: tpm2.AuthHandle{Handle: index.Handle, Name: index.Name, Auth: tpm2.PasswordAuth(auth)},
			NVIndex:    index, Data: tpm2.TPM2BMaxNVBuffer{Buffer: data[off:end]}, Offset: uint16(off),
		}.Execute(t)
		if err != nil {
			return fmt.Errorf("writing the NSM request to NV: %w", err)
		}
		if off == 0 {
			// Written: the name now has TPMA_NV_WRITTEN.
			pub, err := tpm2.NVReadPublic{NVIndex: index.Handle}.Execute(t)
			if err != nil {
				return err
			}
			index.Name = pub.NVName
		}
	}
	return nil
}

func nvReadAll(t transport.TPM, index tpm2.NamedHandle, auth []byte, size int) ([]byte, error) {
	out := make([]byte, 0, size)
	for off := 0; off < size; off += nvChunk {
		n := min(nvChunk, size-off)
		r, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: index.Handle, Name: index.Name, Auth: tpm2.PasswordAuth(auth)},
			NVIndex:    index, Size: uint16(n), Offset: uint16(off),
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("reading the NSM response from NV: %w", err)
		}
		out = append(out, r.Data.Buffer...)
		// The response is one CBOR item: stop once it is whole.
		var v any
		if _, err := cbor.UnmarshalFirst(out, &v); err == nil {
			return out, nil
		}
	}
	return out, nil
}

// nsmRequestCommand builds TPM2_CC 0x20000001 (TPM_ST_SESSIONS): handles
// (the NV index as its own auth, then as the index), and one HMAC session
// authorising it with the index's auth value. There are no parameters, so
// cpHash = SHA-512(commandCode || name || name), and the HMAC is
// HMAC-SHA-512(sessionKey || authValue, cpHash || nonceCaller || nonceTPM ||
// sessionAttributes) (TPM 2.0 Part 1, 19.6.5 and 19.6.11).
func nsmRequestCommand(session, index uint32, name, sessionKey, authValue, nonceCaller, nonceTPM []byte) []byte {
	cc := binary.BigEndian.AppendUint32(nil, uint32(TPMCCAWSNSMRequest))
	h := sha512.New()
	h.Write(cc)
	h.Write(name)
	h.Write(name)
	cpHash := h.Sum(nil)
	const attrs = 0x01 // continueSession
	mac := hmac.New(sha512.New, append(bytes.Clone(sessionKey), authValue...))
	mac.Write(cpHash)
	mac.Write(nonceCaller)
	mac.Write(nonceTPM)
	mac.Write([]byte{attrs})
	sum := mac.Sum(nil)

	var authArea []byte
	authArea = binary.BigEndian.AppendUint32(authArea, session)
	authArea = binary.BigEndian.AppendUint16(authArea, uint16(len(nonceCaller)))
	authArea = append(authArea, nonceCaller...)
	authArea = append(authArea, attrs)
	authArea = binary.BigEndian.AppendUint16(authArea, uint16(len(sum)))
	authArea = append(authArea, sum...)

	var body []byte
	body = binary.BigEndian.AppendUint32(body, index) // the auth handle
	body = binary.BigEndian.AppendUint32(body, index) // the NV index
	body = binary.BigEndian.AppendUint32(body, uint32(len(authArea)))
	body = append(body, authArea...)

	cmd := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(10+len(body)))
	cmd = append(cmd, cc...)
	return append(cmd, body...)
}

// responseCode is a raw response's error, if any.
func responseCode(rsp []byte) error {
	if len(rsp) < 10 {
		return fmt.Errorf("a %d-byte response", len(rsp))
	}
	if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])); rc != tpm2.TPMRCSuccess {
		return rc
	}
	return nil
}

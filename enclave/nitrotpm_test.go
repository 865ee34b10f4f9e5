package enclave

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestNSMRequestEncoding: the request is the NSM API's Attestation request
// as serde writes it, empty fields null.
func TestNSMRequestEncoding(t *testing.T) {
	b, err := encodeNSMRequest([]byte("key"), nil, []byte("ud"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	if err := cbor.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	a := m["Attestation"]
	if len(m) != 1 || len(a) != 3 || !bytes.Equal(a["public_key"].([]byte), []byte("key")) || a["nonce"] != nil || !bytes.Equal(a["user_data"].([]byte), []byte("ud")) {
		t.Fatalf("request %v", m)
	}
}

// TestNSMResponseDecoding: a document as bytes or as an array of integers,
// followed by whatever the NV index held; the NSM's errors; garbage.
func TestNSMResponseDecoding(t *testing.T) {
	doc := []byte{0x84, 1, 2, 3}
	asBytes, _ := cbor.Marshal(map[string]any{"Attestation": map[string]any{"document": doc}})
	asInts, _ := cbor.Marshal(map[string]any{"Attestation": map[string]any{"document": []int{0x84, 1, 2, 3}}})
	for _, rsp := range [][]byte{asBytes, asInts, append(bytes.Clone(asBytes), make([]byte, 100)...), append(bytes.Clone(asBytes), bytes.Repeat([]byte{0xff}, 100)...)} {
		got, err := decodeNSMResponse(rsp)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("%x: %x, %v", rsp, got, err)
		}
	}
	nsmErr, _ := cbor.Marshal(map[string]any{"Error": "InvalidArgument"})
	empty, _ := cbor.Marshal(map[string]any{"Attestation": map[string]any{"document": []byte{}}})
	other, _ := cbor.Marshal(map[string]any{"DescribePCR": map[string]any{}})
	for want, rsp := range map[string][]byte{"InvalidArgument": nsmErr, "empty document": empty, "not an Attestation": other, "not CBOR": {0xff}} {
		if _, err := decodeNSMResponse(rsp); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v", want, err)
		}
	}
}

// TestNSMRequestCommand: the vendor command's bytes, and its HMAC as TPM
// 2.0 Part 1 defines it, recomputed here.
func TestNSMRequestCommand(t *testing.T) {
	name := append([]byte{0x00, 0x0d}, bytes.Repeat([]byte{7}, 64)...) // SHA-512 name
	key, auth := bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 64)
	nc, nt := bytes.Repeat([]byte{3}, 64), bytes.Repeat([]byte{4}, 64)
	cmd := nsmRequestCommand(0x02000000, 0x01000005, name, key, auth, nc, nt)
	be := binary.BigEndian
	if be.Uint16(cmd) != 0x8002 || int(be.Uint32(cmd[2:])) != len(cmd) || be.Uint32(cmd[6:]) != 0x20000001 ||
		be.Uint32(cmd[10:]) != 0x01000005 || be.Uint32(cmd[14:]) != 0x01000005 || int(be.Uint32(cmd[18:])) != len(cmd)-22 {
		t.Fatalf("header %x", cmd[:22])
	}
	area := cmd[22:]
	if be.Uint32(area) != 0x02000000 || be.Uint16(area[4:]) != 64 || !bytes.Equal(area[6:70], nc) || area[70] != 1 || be.Uint16(area[71:]) != 64 {
		t.Fatalf("auth area %x", area)
	}
	cp := sha512.Sum512(append(append([]byte{0x20, 0, 0, 1}, name...), name...))
	mac := hmac.New(sha512.New, append(bytes.Clone(key), auth...))
	mac.Write(cp[:])
	mac.Write(nc)
	mac.Write(nt)
	mac.Write([]byte{1})
	if !hmac.Equal(area[73:], mac.Sum(nil)) {
		t.Fatal("the session HMAC is not Part 1's")
	}
	if err := responseCode([]byte{0x80, 1, 0, 0, 0, 10, 0, 0, 1, 0x43}); err == nil {
		t.Fatal("TPM_RC_COMMAND_CODE not an error")
	}
}

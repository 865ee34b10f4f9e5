package tpm_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// The real Google Cloud vTPM attestation of testvectors/tpm (see its README):
// go-tpm-tools' attest.Attestation protobuf, read here with a few lines of
// protobuf wire format rather than go-tpm-tools' proto package, whose
// dependencies (go-sev-guest's and go-tdx-guest's protos) we would rather not
// pull into the module for a test.

const vectorDir = "../../testvectors/tpm"

const gceVector = "gce-cos-85-nonce9009.pb"

// gceNonce is the nonce go-tpm-tools' client.Attest put in the quotes'
// extraData (its test verifies them with []byte{0x90, 0x09}).
var gceNonce = []byte{0x90, 0x09}

// The AK certificate's validity (2021-08-31T23:11:05Z to 2051-08-24T23:16:05Z),
// and a time inside it and inside its issuers'.
var (
	gceAKNotBefore = time.Date(2021, 8, 31, 23, 11, 5, 0, time.UTC)
	gceAKNotAfter  = time.Date(2051, 8, 24, 23, 16, 5, 0, time.UTC)
	gceTime        = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// gceAttestation is what the vector holds.
type gceAttestation struct {
	akPub  []byte
	akCert []byte
	quotes []gceQuote
}

type gceQuote struct {
	quote, sig []byte
	hash       uint64 // the bank: 4 SHA-1, 11 SHA-256, 12 SHA-384
	pcrs       map[int][]byte
}

type pbField struct {
	num int
	v   uint64 // varint fields
	b   []byte // length-delimited fields
}

// pbFields splits a protobuf message into its fields (varint and
// length-delimited only: all the vector uses).
func pbFields(b []byte) ([]pbField, error) {
	var out []pbField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad field key")
		}
		b = b[n:]
		f := pbField{num: int(key >> 3)}
		switch key & 7 {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("bad varint")
			}
			f.v, b = v, b[n:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, errors.New("bad length")
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("wire type %d", key&7)
		}
		out = append(out, f)
	}
	return out, nil
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readGCE decodes the vector: Attestation{1 ak_pub, 2 quotes, 6 ak_cert},
// Quote{1 quote, 2 raw_sig, 3 pcrs}, PCRs{1 hash, 2 map<uint32, bytes>}.
func readGCE(t testing.TB) *gceAttestation {
	t.Helper()
	fs, err := pbFields(readVector(t, gceVector))
	if err != nil {
		t.Fatal(err)
	}
	var a gceAttestation
	for _, f := range fs {
		switch f.num {
		case 1:
			a.akPub = f.b
		case 6:
			a.akCert = f.b
		case 2:
			q := gceQuote{pcrs: map[int][]byte{}}
			qfs, err := pbFields(f.b)
			if err != nil {
				t.Fatal(err)
			}
			for _, qf := range qfs {
				switch qf.num {
				case 1:
					q.quote = qf.b
				case 2:
					q.sig = qf.b
				case 3:
					pfs, err := pbFields(qf.b)
					if err != nil {
						t.Fatal(err)
					}
					for _, pf := range pfs {
						switch pf.num {
						case 1:
							q.hash = pf.v
						case 2:
							entry, err := pbFields(pf.b)
							if err != nil || len(entry) != 2 {
								t.Fatalf("pcr map entry: %v", err)
							}
							q.pcrs[int(entry[0].v)] = entry[1].b
						}
					}
				}
			}
			a.quotes = append(a.quotes, q)
		}
	}
	if a.akPub == nil || a.akCert == nil || len(a.quotes) != 3 {
		t.Fatalf("vector: ak_pub %d bytes, ak_cert %d bytes, %d quotes", len(a.akPub), len(a.akCert), len(a.quotes))
	}
	return &a
}

// gceBanks names the vector's banks by their TPM_ALG_ID.
var gceBanks = map[uint64]string{4: "SHA1", 11: "SHA256", 12: "SHA384"}

// gceEnvelope is the vector's quote over bank as an attestkms envelope, with
// the AK's TPMT_PUBLIC and certificate, the intermediate that issued it, and
// an enclave key of our own (the quote binds none: its extraData is
// gceNonce).
func gceEnvelope(t testing.TB, bank string) *envelope.Envelope {
	t.Helper()
	a := readGCE(t)
	for _, q := range a.quotes {
		if gceBanks[q.hash] != bank {
			continue
		}
		return &envelope.Envelope{
			Format:    attest.FormatTPM2,
			PublicKey: enclaveKey(t),
			Quote:     slices.Clone(q.quote),
			Signature: slices.Clone(q.sig),
			PCRs:      q.pcrs,
			AKPublic:  slices.Clone(a.akPub),
			AKCert:    slices.Clone(a.akCert),
			AKChain:   [][]byte{readVector(t, "tpm_ek_intermediate_2.crt")},
		}
	}
	t.Fatalf("no %s quote", bank)
	return nil
}

func marshal(t testing.TB, e *envelope.Envelope) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

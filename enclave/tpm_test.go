package enclave

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// pcrReadTPM answers every TPM2_PCR_Read with one SHA-256 PCR, whichever was
// asked for: a TPM (or a host emulating one) that makes no progress.
// also are more PCRs it answers with.
type pcrReadTPM struct {
	pcr  uint
	also []uint
}

func (f pcrReadTPM) Send(cmd []byte) ([]byte, error) {
	all := append([]uint{f.pcr}, f.also...)
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(all...),
	}}}
	digests := tpm2.TPMLDigest{}
	for range all {
		digests.Digests = append(digests.Digests, tpm2.TPM2BDigest{Buffer: make([]byte, 32)})
	}
	params := append(binary.BigEndian.AppendUint32(nil, 1), tpm2.Marshal(sel)...)
	params = append(params, tpm2.Marshal(digests)...)
	rsp := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMSTNoSessions))
	rsp = binary.BigEndian.AppendUint32(rsp, uint32(10+len(params)))
	rsp = binary.BigEndian.AppendUint32(rsp, 0) // TPM_RC_SUCCESS
	return append(rsp, params...), nil
}

// TestReadPCRsNoProgress: a TPM that keeps answering with a PCR we did not
// ask for is an error, not an endless loop.
func TestReadPCRsNoProgress(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := readPCRs(pcrReadTPM{pcr: 23}, []uint{0, 1})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "none of the SHA-256 PCRs") {
			t.Fatalf("readPCRs: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readPCRs did not return")
	}
	got, err := readPCRs(pcrReadTPM{pcr: 3}, []uint{3})
	if err != nil || len(got) != 1 || len(got[3]) != 32 {
		t.Fatalf("readPCRs of an answering TPM: %v, %v", got, err)
	}
}

// TestReadPCRsOnlyAsked: PCRs the TPM adds unasked stay out of the result,
// whose indices must be the quoted selection exactly.
func TestReadPCRsOnlyAsked(t *testing.T) {
	got, err := readPCRs(pcrReadTPM{pcr: 3, also: []uint{9}}, []uint{3})
	if err != nil || len(got) != 1 || got[3] == nil {
		t.Fatalf("readPCRs = %v, %v; want PCR3 only", got, err)
	}
}

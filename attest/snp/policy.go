package snp

import (
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/attest"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
)

// maxVMPL is the least privileged VMPL there is (VMPL0 to VMPL3).
const maxVMPL = 3

// validateOptions builds, once, the options of go-sev-guest's
// validate.SnpAttestation from o: the firmware and TCB checks. Its zero
// Options would refuse SMT, which every cloud's SEV-SNP guests allow, so
// each field is set deliberately; the package comment says why. The guest
// policy's bits are judged by checkGuestPolicy instead, which names every
// bit it refuses where validate stops at the first: its GuestPolicy here
// admits them all.
func validateOptions(o Options) validate.Options {
	return validate.Options{
		GuestPolicy: abi.SnpPolicy{
			// ABI 0.0: a guest may require any firmware ABI version.
			SMT:        true,
			Debug:      true, // checkGuestPolicy: refused unless AllowDebug
			MigrateMA:  true, // checkGuestPolicy: refused
			CXLAllowed: true, // checkGuestPolicy: refused
			// SingleSocket, MemAES256XTS, RAPLDis, CipherTextHidingDRAM,
			// PageSwapDisable false: not required.
		},
		MinimumTCB:                kds.DecomposeTCBVersion(kds.TCBVersion(o.MinTCB)),
		PermitProvisionalFirmware: o.AllowProvisionalFirmware,
		// Not set, so not checked here: ReportData (the binding, checked
		// before policy in constant time), Measurement and HostData (the
		// key policy's, through Claims), VMPL (validate only compares for
		// equality; checkPolicy applies MaxVMPL), MinimumGuestSvn,
		// PlatformInfo, the ID block and author keys, mitigation vectors.
	}
}

// checkGuestPolicy lists the guest policy's refused bits.
func (v *Verifier) checkGuestPolicy(policy uint64) []string {
	p, err := abi.ParseSnpPolicy(policy)
	if err != nil { // parseReport has parsed it already
		return []string{err.Error()}
	}
	var problems []string
	if p.Debug && !v.allowDebug {
		problems = append(problems, "the guest policy allows debugging (DEBUG): its host can read and write its memory")
	}
	if p.MigrateMA {
		problems = append(problems, "the guest policy allows a migration agent (MIGRATE_MA)")
	}
	if p.CXLAllowed {
		problems = append(problems, "the guest policy allows CXL devices and memory (CXL_ALLOW)")
	}
	return problems
}

// checkPolicy judges a verified report by v's guest policy, and reports
// every unmet condition at once.
func (v *Verifier) checkPolicy(r *verifiedReport) error {
	problems := v.checkGuestPolicy(r.proto.GetPolicy())
	opts := v.validate // a copy: validate may fill in its key hashes
	att := &spb.Attestation{Report: r.proto, CertificateChain: &spb.CertificateChain{}}
	if r.signer == abi.VlekReportSigner {
		att.CertificateChain.VlekCert = r.cert.Raw
	} else {
		att.CertificateChain.VcekCert = r.cert.Raw
	}
	if err := validate.SnpAttestation(att, &opts); err != nil {
		problems = append(problems, err.Error())
	}
	if vmpl := r.proto.GetVmpl(); vmpl > v.maxVMPL {
		problems = append(problems, fmt.Sprintf("report VMPL %d is above the highest accepted, %d", vmpl, v.maxVMPL))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", attest.ErrPolicy, strings.Join(problems, "; "))
	}
	return nil
}

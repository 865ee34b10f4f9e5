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
// validate.SnpAttestation from o. Its zero Options would refuse SMT, which
// every cloud's SEV-SNP guests allow, so each field is set deliberately;
// the package comment says why.
func validateOptions(o Options) validate.Options {
	return validate.Options{
		GuestPolicy: abi.SnpPolicy{
			// ABI 0.0: a guest may require any firmware ABI version.
			SMT:       true,         // allowed; see the package comment
			Debug:     o.AllowDebug, // the host can read and write a debug guest's memory
			MigrateMA: false,        // refused: a migration agent can move the guest where we never looked
			// CXLAllowed false: a guest that may be given CXL devices or
			// memory is refused. SingleSocket, MemAES256XTS, RAPLDis,
			// CipherTextHidingDRAM, PageSwapDisable false: not required.
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

// checkPolicy judges a verified report by v's guest policy, and reports
// every unmet condition at once.
func (v *Verifier) checkPolicy(r *verifiedReport) error {
	var problems []string
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

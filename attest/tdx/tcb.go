package tdx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/attestkms/attestkms/attest"
	"github.com/google/go-tdx-guest/pcs"
)

const statusUpToDate = "UpToDate"

var knownStatus = map[string]bool{
	"UpToDate": true, "SWHardeningNeeded": true, "ConfigurationNeeded": true,
	"ConfigurationAndSWHardeningNeeded": true, "OutOfDate": true, "OutOfDateConfigurationNeeded": true,
	// Revoked is never admitted.
}

func knownStatusList() string {
	var s []string
	for k := range knownStatus {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// check refuses a quote that is not what the collateral describes: another
// FMSPC or PCE, a TDX module Intel did not sign, or a QE that is not
// Intel's TD QE. Intel's Quote Verification Library checks the same.
func (j *judged) check(q *quote, chain *pckChain) error {
	info := j.tcb.Info
	body := q.proto.GetTdQuoteBody()
	if !strings.EqualFold(info.Fmspc, hex.EncodeToString(chain.fmspc)) {
		return fmt.Errorf("%w: TCB Info is for FMSPC %s, the PCK certificate's is %x", attest.ErrPolicy, info.Fmspc, chain.fmspc)
	}
	if !strings.EqualFold(info.PceID, chain.pceID) {
		return fmt.Errorf("%w: TCB Info is for PCEID %s, the PCK certificate's is %s", attest.ErrPolicy, info.PceID, chain.pceID)
	}
	// The module's signer and attributes: the TCB Info's tdxModule, or for
	// a TDX 1.5 module (TEE_TCB_SVN[1] > 0) its module identity's, as
	// Intel's QVL takes them (a TCB Info without that identity is refused
	// by platformLevel).
	m := pcs.TdxModule{Mrsigner: info.TdxModule.Mrsigner, Attributes: info.TdxModule.Attributes, AttributesMask: info.TdxModule.AttributesMask}
	if svn := body.GetTeeTcbSvn(); len(svn) > 1 && svn[1] > 0 {
		id := "TDX_" + hex.EncodeToString(svn[1:2])
		for _, mi := range info.TdxModuleIdentities {
			if strings.EqualFold(mi.ID, id) {
				m = pcs.TdxModule{Mrsigner: mi.Mrsigner, Attributes: mi.Attributes, AttributesMask: mi.AttributesMask}
				break
			}
		}
	}
	if !bytes.Equal(m.Mrsigner.Bytes, body.GetMrSignerSeam()) {
		return fmt.Errorf("%w: MRSIGNERSEAM %x is not the TDX module signer of the TCB Info", attest.ErrPolicy, body.GetMrSignerSeam())
	}
	if len(m.AttributesMask.Bytes) != len(body.GetSeamAttributes()) || !bytes.Equal(mask(m.AttributesMask.Bytes, body.GetSeamAttributes()), m.Attributes.Bytes) {
		return fmt.Errorf("%w: SEAMATTRIBUTES %x do not match the TCB Info's TDX module", attest.ErrPolicy, body.GetSeamAttributes())
	}
	id := j.qe.Identity
	r := q.proto.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeReport()
	if len(id.MiscselectMask.Bytes) != 4 || len(id.Miscselect.Bytes) != 4 || len(id.AttributesMask.Bytes) != len(r.GetAttributes()) {
		return fmt.Errorf("%w: QE Identity has masks of the wrong size", attest.ErrMalformed)
	}
	misc := r.GetMiscSelect() & binary.LittleEndian.Uint32(id.MiscselectMask.Bytes)
	switch {
	case !bytes.Equal(id.Mrsigner.Bytes, r.GetMrSigner()),
		r.GetIsvProdId() != uint32(id.IsvProdID),
		misc != binary.LittleEndian.Uint32(id.Miscselect.Bytes),
		!bytes.Equal(mask(id.AttributesMask.Bytes, r.GetAttributes()), id.Attributes.Bytes):
		return fmt.Errorf("%w: the quoting enclave is not Intel's TD QE by the QE Identity (MRSIGNER %x, ISVPRODID %d)", attest.ErrChain, r.GetMrSigner(), r.GetIsvProdId())
	}
	return nil
}

func mask(m, b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = m[i] & b[i]
	}
	return out
}

type tcbResult struct {
	status, qeStatus string
	advisories       []string
	evaluation       int
}

// judge finds the platform's and the QE's TCB levels (Intel's algorithm:
// the first level, in the TCB Info's order, that the PCK's SGX SVNs and
// PCESVN and the TD's TEE_TCB_SVN all reach; when TEE_TCB_SVN[1] > 0,
// that level converged with the TDX module identity's (converge); the QE's first level at or below its
// ISVSVN) and applies the policy, naming every unmet condition at once.
func (v *Verifier) judge(q *quote, chain *pckChain, j *judged) (*tcbResult, error) {
	body := q.proto.GetTdQuoteBody()
	svn := body.GetTeeTcbSvn()
	res := &tcbResult{evaluation: j.tcb.Info.TcbEvaluationDataNumber}
	var problems []string
	level, err := platformLevel(j.tcb.Info, svn, chain.ext)
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		res.status = string(level.TcbStatus)
		res.advisories = append(res.advisories, level.AdvisoryIDs...)
	}
	isvsvn := q.proto.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeReport().GetIsvSvn()
	var qeLevel *pcs.TcbLevel
	for i := range j.qe.Identity.TcbLevels {
		if j.qe.Identity.TcbLevels[i].Tcb.Isvsvn <= isvsvn {
			qeLevel = &j.qe.Identity.TcbLevels[i]
			break
		}
	}
	if qeLevel == nil {
		problems = append(problems, fmt.Sprintf("no QE Identity TCB level for the QE's ISVSVN %d", isvsvn))
	} else {
		res.qeStatus = string(qeLevel.TcbStatus)
		res.advisories = append(res.advisories, qeLevel.AdvisoryIDs...)
	}
	if res.status != "" && !v.allowed[res.status] {
		problems = append(problems, fmt.Sprintf("platform TCB status %s (advisories: %s) is not admitted", res.status, advisories(level.AdvisoryIDs)))
	}
	if res.qeStatus != "" && !v.allowed[res.qeStatus] {
		problems = append(problems, fmt.Sprintf("QE TCB status %s (advisories: %s) is not admitted", res.qeStatus, advisories(qeLevel.AdvisoryIDs)))
	}
	if isDebug(body.GetTdAttributes()) && !v.allowDebug {
		problems = append(problems, fmt.Sprintf("the TD is a debug TD (TD_ATTRIBUTES.TUD 0x%02x: DEBUG or another TD-under-debug bit): its host can read or profile it", body.GetTdAttributes()[0]))
	}
	attrs := body.GetTdAttributes()
	if !attrBit(attrs, attrSEPTVEDisable) && !v.allowSEPTVE {
		problems = append(problems, "the TD runs without TD_ATTRIBUTES.SEPT_VE_DISABLE: its host can inject #VE exceptions at points of its choosing (--tdx-allow-sept-ve admits it)")
	}
	if attrBit(attrs, attrMigratable) && !v.allowMigratable {
		problems = append(problems, "the TD is MIGRATABLE: its state may move to a platform this quote does not cover (--tdx-allow-migratable admits it)")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", attest.ErrPolicy, strings.Join(problems, "; "))
	}
	return res, nil
}

func advisories(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func platformLevel(info pcs.TcbInfo, svn []byte, ext *pcs.PckExtensions) (*pcs.TcbLevel, error) {
	var found *pcs.TcbLevel
	for i := range info.TcbLevels {
		l := &info.TcbLevels[i]
		if reaches(ext.TCB.CPUSvnComponents, l.Tcb.SgxTcbcomponents, 0) && ext.TCB.PCESvn >= l.Tcb.Pcesvn && reachesTDX(svn, l.Tcb.TdxTcbcomponents) {
			found = l
			break
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no TCB level of the TCB Info matches the platform (its TCB is not supported)")
	}
	if len(svn) > 1 && svn[1] > 0 {
		id := "TDX_" + hex.EncodeToString(svn[1:2])
		for _, m := range info.TdxModuleIdentities {
			if strings.EqualFold(m.ID, id) {
				for i := range m.TcbLevels {
					if uint32(svn[0]) >= m.TcbLevels[i].Tcb.Isvsvn {
						return converge(found, &m.TcbLevels[i])
					}
				}
				return nil, fmt.Errorf("no TCB level of TDX module identity %s matches the module's SVN %d", id, svn[0])
			}
		}
		return nil, fmt.Errorf("the TCB Info has no TDX module identity %s", id)
	}
	return found, nil
}

// converge combines the platform's TCB level with its TDX module
// identity's level, as Intel's Quote Verification Library does: the
// platform's status stands, lowered to OutOfDate (or
// OutOfDateConfigurationNeeded) when the module is OutOfDate, refused when
// the module is Revoked; the advisories are both levels'. A module level
// never raises the platform's status: an up-to-date TDX 1.5 module on a
// platform whose SGX or microcode TCB is out of date is out of date.
func converge(platform, module *pcs.TcbLevel) (*pcs.TcbLevel, error) {
	out := *platform
	out.AdvisoryIDs = append(append([]string(nil), platform.AdvisoryIDs...), module.AdvisoryIDs...)
	switch string(module.TcbStatus) {
	case statusUpToDate:
	case "OutOfDate":
		switch string(platform.TcbStatus) {
		case statusUpToDate, "SWHardeningNeeded":
			out.TcbStatus = "OutOfDate"
		case "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded":
			out.TcbStatus = "OutOfDateConfigurationNeeded"
		}
	case "Revoked":
		out.TcbStatus = "Revoked"
	default:
		return nil, fmt.Errorf("TDX module identity TCB level has status %q, which is not UpToDate, OutOfDate or Revoked", module.TcbStatus)
	}
	return &out, nil
}

func reaches(have []byte, want []pcs.TcbComponent, from int) bool {
	if len(have) != len(want) {
		return false
	}
	for i := from; i < len(have); i++ {
		if have[i] < want[i].Svn {
			return false
		}
	}
	return true
}

// reachesTDX compares TEE_TCB_SVN; its first two bytes are the TDX module's
// SVN and version, judged by the module identity when the version is set.
func reachesTDX(svn []byte, want []pcs.TcbComponent) bool {
	from := 0
	if len(svn) > 1 && svn[1] > 0 {
		from = 2
	}
	return reaches(svn, want, from)
}

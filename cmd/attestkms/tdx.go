package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/tdx"
	"github.com/attestkms/attestkms/internal/pemfile"
)

// tdxFlags are the Intel TDX settings serve and verify-evidence share.
type tdxFlags struct {
	roots       string
	collateral  string
	grace       time.Duration
	minEval     int
	allowStatus string
	// allowSEPTVE, allowMigratable admit TDs with those attributes.
	allowSEPTVE, allowMigratable bool
	// logger is serve's: told of every collateral reload (nil: none).
	logger *slog.Logger
}

func (f *tdxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.roots, "tdx-roots", "", "replace the embedded Intel SGX Root CA with the roots in this PEM `file` (PCK chains and collateral signers; e.g. attestsim tdx-ca's roots.pem)")
	fs.StringVar(&f.collateral, "tdx-collateral", "", "judge TDX quotes with Intel's collateral in this `directory` (TCB Info per FMSPC, QE Identity, CRLs as PCS returns them; layout in docs/evidence.md), reloaded when its files change")
	fs.DurationVar(&f.grace, "tdx-collateral-grace", 0, "accept TDX collateral up to this `duration` past its nextUpdate (default: none)")
	fs.IntVar(&f.minEval, "tdx-min-tcb-evaluation-number", 0, "refuse TDX TCB Info and QE Identity whose tcbEvaluationDataNumber is below this `number`")
	fs.StringVar(&f.allowStatus, "tdx-allow-tcb-status", "", "accept TDX platforms and QEs of these TCB `statuses` (comma-separated, e.g. SWHardeningNeeded) beside UpToDate")
	fs.BoolVar(&f.allowSEPTVE, "tdx-allow-sept-ve", false, "accept TDs without TD_ATTRIBUTES.SEPT_VE_DISABLE (their host can inject #VE exceptions; the bit is not measured)")
	fs.BoolVar(&f.allowMigratable, "tdx-allow-migratable", false, "accept MIGRATABLE TDs (their state may move to a platform the quote does not cover)")
}

func (f *tdxFlags) verifier(allowDebug bool, coldChain func() bool) (*tdx.Verifier, error) {
	o := tdx.Options{AllowDebug: allowDebug, ColdChain: coldChain, CollateralGrace: f.grace, MinTCBEvaluationNumber: f.minEval,
		AllowSEPTVE: f.allowSEPTVE, AllowMigratable: f.allowMigratable}
	if f.grace < 0 || f.minEval < 0 {
		return nil, usageError("--tdx-collateral-grace and --tdx-min-tcb-evaluation-number must not be negative")
	}
	if f.allowStatus != "" {
		for _, st := range strings.Split(f.allowStatus, ",") {
			o.AllowTCBStatus = append(o.AllowTCBStatus, strings.TrimSpace(st))
		}
	}
	if f.roots != "" {
		b, err := pemfile.ReadFile(f.roots)
		if err != nil {
			return nil, fmt.Errorf("reading --tdx-roots: %w", err)
		}
		if o.Roots, err = tdx.ParseRoots(b); err != nil {
			return nil, fmt.Errorf("--tdx-roots %s: %w", f.roots, err)
		}
	}
	if f.collateral != "" {
		d, err := tdx.OpenCollateralDir(f.collateral, o.Roots)
		if err != nil {
			return nil, fmt.Errorf("--tdx-collateral %s: %w", f.collateral, err)
		}
		d.Logger = f.logger
		o.Collateral = d
	}
	v, err := tdx.New(o)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return v, nil
}

type tdxJSON struct {
	MRTD                    string    `json:"mrtd"`
	RTMR                    [4]string `json:"rtmr"`
	MRConfigID              string    `json:"mrconfigid"`
	MROwner                 string    `json:"mrowner"`
	MROwnerConfig           string    `json:"mrownerconfig"`
	MRSeam                  string    `json:"mrseam"`
	TDAttributes            string    `json:"td_attributes"`
	XFAM                    string    `json:"xfam"`
	TeeTCBSVN               string    `json:"tee_tcb_svn"`
	TCBStatus               string    `json:"tcb_status"`
	QETCBStatus             string    `json:"qe_tcb_status"`
	AdvisoryIDs             []string  `json:"advisory_ids,omitempty"`
	FMSPC                   string    `json:"fmspc"`
	TCBEvaluationDataNumber int       `json:"tcb_evaluation_data_number"`
}

func toTDXJSON(c *attest.TDXClaims) *tdxJSON {
	if c == nil {
		return nil
	}
	h := hex.EncodeToString
	out := &tdxJSON{
		MRTD: h(c.MRTD), MRConfigID: h(c.MRConfigID), MROwner: h(c.MROwner), MROwnerConfig: h(c.MROwnerConfig),
		MRSeam: h(c.MRSeam), TDAttributes: h(c.TDAttributes), XFAM: h(c.XFAM), TeeTCBSVN: h(c.TeeTCBSVN),
		TCBStatus: c.TCBStatus, QETCBStatus: c.QETCBStatus, AdvisoryIDs: c.AdvisoryIDs, FMSPC: c.FMSPC,
		TCBEvaluationDataNumber: c.TCBEvaluationDataNumber,
	}
	for i, r := range c.RTMR {
		out.RTMR[i] = h(r)
	}
	return out
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// The simulated attestors (--attestor sim, sim-snp, sim-tpm) do not sign
// anything themselves: enclavetool runs inside production enclaves, and the
// test signers (attest's nitrotest, snptest, tpmtest) have no business in
// that binary. They run attestsim as a child process instead,
//
//	attestsim nitro|snp|tpm|tdx --ca DIR --public-key - --out - [--pcr N=HEX | --measurement HEX | --mrtd HEX --rtmr N=HEX] ...
//
// giving it the ephemeral public key on standard input and reading the
// evidence from its standard output. The child gets nothing secret: its
// arguments are the --sim-* options, its standard input the public key, its
// environment empty (so not AWS_SECRET_ACCESS_KEY), and no other file. What
// it writes is bounded (attest.MaxEvidence, the most attestkms takes; its
// messages to simStderr), and it has simTimeout to answer.
//
// attestsim is found, in this order, at $ATTESTKMS_ATTESTSIM, next to the
// enclavetool executable (go build -o bin/ ./cmd/... puts it there), or on
// PATH.

// attestsimEnv names the attestsim executable, overriding the search.
const attestsimEnv = "ATTESTKMS_ATTESTSIM"

// simTimeout bounds one attestsim run: it signs in milliseconds.
var simTimeout = 30 * time.Second

// simStderr bounds what is kept of attestsim's messages: one error line and
// a hint are a few hundred bytes.
const simStderr = 4 << 10

// defaultSimPCR0 makes a simulated enclave a production one (PCR0 not zero):
// attestkms refuses debug enclaves unless told otherwise.
var defaultSimPCR0 = sha512.Sum384([]byte("attestkms simulated enclave"))

// defaultSimMeasurement is a simulated SEV-SNP guest's MEASUREMENT.
var defaultSimMeasurement = sha512.Sum384([]byte("attestkms simulated guest"))

// simAttestor gets evidence from attestsim. Its evidence verifies only
// against the test CA's roots (attestkms serve --nitro-roots DIR/root.pem,
// --snp-roots DIR/roots.pem, --tpm-roots DIR/roots.pem, --tdx-roots
// DIR/roots.pem with --tdx-collateral DIR/collateral).
type simAttestor struct {
	attestor string   // the --attestor value, for messages
	kind     string   // attestsim's command: nitro, snp, tpm or tdx
	ca       string   // --sim-ca
	args     []string // the evidence's flags, from --sim-pcr and --sim-measurement
}

// newSimAttestor checks the --sim-* options of attestor (sim, sim-snp or
// sim-tpm) as attestsim would, so that a mistake is a usage error here, and
// turns them into attestsim's flags.
func newSimAttestor(attestor, ca string, pcrs map[int][]byte, measurement string) (*simAttestor, error) {
	a := &simAttestor{attestor: attestor, ca: ca}
	switch attestor {
	case "sim":
		a.kind = "nitro"
		if _, ok := pcrs[0]; !ok {
			a.args = append(a.args, "--pcr", "0="+hex.EncodeToString(defaultSimPCR0[:]))
		}
		for _, i := range sortedPCRs(pcrs) {
			if len(pcrs[i]) != 48 {
				return nil, usageError("--sim-pcr %d: with --attestor sim, PCRs are SHA-384, 48 bytes (96 hex digits)", i)
			}
			a.args = append(a.args, "--pcr", fmt.Sprintf("%d=%x", i, pcrs[i]))
		}
	case "sim-snp":
		a.kind = "snp"
		m := defaultSimMeasurement[:]
		if measurement != "" {
			var err error
			if m, err = hex.DecodeString(measurement); err != nil || len(m) != 48 {
				return nil, usageError("--sim-measurement must be 48 bytes of hex")
			}
		}
		a.args = append(a.args, "--measurement", hex.EncodeToString(m))
	case "sim-tpm":
		a.kind = "tpm"
		for _, i := range sortedPCRs(pcrs) {
			if i > 23 || len(pcrs[i]) != 32 {
				return nil, usageError("--sim-pcr %d: with sim-tpm, PCRs are 0 to 23 and SHA-256 (32 bytes)", i)
			}
			a.args = append(a.args, "--pcr", fmt.Sprintf("%d=%x", i, pcrs[i]))
		}
	case "sim-tdx":
		a.kind = "tdx"
		if measurement != "" {
			if m, err := hex.DecodeString(measurement); err != nil || len(m) != 48 {
				return nil, usageError("--sim-measurement (MRTD with sim-tdx) must be 48 bytes of hex")
			}
			a.args = append(a.args, "--mrtd", measurement)
		}
		for _, i := range sortedPCRs(pcrs) {
			if i > 3 || len(pcrs[i]) != 48 {
				return nil, usageError("--sim-pcr %d: with sim-tdx, it sets RTMR0 to RTMR3, 48 bytes each", i)
			}
			a.args = append(a.args, "--rtmr", fmt.Sprintf("%d=%x", i, pcrs[i]))
		}
	case "sim-nitrotpm":
		// An AWS NitroTPM document, signed by the Nitro test CA.
		a.kind = "nitro"
		a.args = append(a.args, "--nitrotpm")
		for _, i := range sortedPCRs(pcrs) {
			if i > 23 || len(pcrs[i]) != 48 {
				return nil, usageError("--sim-pcr %d: with sim-nitrotpm, registers are 0 to 23 and SHA-384 (48 bytes)", i)
			}
			a.args = append(a.args, "--pcr", fmt.Sprintf("%d=%x", i, pcrs[i]))
		}
	default:
		return nil, fmt.Errorf("no simulated attestor %q", attestor) // unreachable: options.newAttestor chose
	}
	return a, nil
}

func sortedPCRs(pcrs map[int][]byte) []int {
	out := make([]int, 0, len(pcrs))
	for i := range pcrs {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// Attest runs attestsim for publicKeyDER and returns its evidence.
func (a *simAttestor) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	path, err := findAttestsim()
	if err != nil {
		return nil, err
	}
	args := append([]string{a.kind, "--ca", a.ca, "--public-key", "-", "--out", "-"}, a.args...)
	if len(nonce) > 0 {
		args = append(args, "--nonce", base64.StdEncoding.EncodeToString(nonce))
	}
	if len(userData) > 0 {
		args = append(args, "--user-data", base64.StdEncoding.EncodeToString(userData))
	}
	ctx, cancel := context.WithTimeout(context.Background(), simTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{} // nothing of ours, credentials least of all
	// A 32-byte key is the SHA-256 of an ML-KEM-768+X25519 key (--key-type
	// mlkem768x25519), which attestsim binds as it is.
	typ := "PUBLIC KEY"
	if len(publicKeyDER) == sha256.Size {
		typ = "ATTESTKMS HPKE KEY DIGEST"
	}
	cmd.Stdin = bytes.NewReader(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: publicKeyDER}))
	var stderr limitedBuffer
	stderr.max = simStderr
	cmd.Stderr = &stderr
	// Collected during Wait (not read from a pipe before it), so that a
	// grandchild holding the pipes open holds us for WaitDelay at most.
	cmd.WaitDelay = time.Second
	var stdout limitedBuffer
	stdout.max = attest.MaxEvidence + 1
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("--attestor %s: running %s: %w", a.attestor, path, err)
	}
	waitErr := cmd.Wait()
	doc := stdout.Bytes()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("--attestor %s: %s did not answer within %s", a.attestor, path, simTimeout)
	case len(doc) > attest.MaxEvidence:
		return nil, fmt.Errorf("--attestor %s: %s wrote more than %d bytes, more than any evidence attestkms takes", a.attestor, path, attest.MaxEvidence)
	case waitErr != nil:
		return nil, &exitError{code: 1, err: fmt.Errorf("--attestor %s: attestsim %s: %s", a.attestor, a.kind, childError(stderr.Bytes(), waitErr)), hint: a.hint()}
	case len(doc) == 0:
		return nil, fmt.Errorf("--attestor %s: %s wrote no evidence", a.attestor, path)
	}
	return doc, nil
}

// hint says which CA --sim-ca must be, the likeliest mistake.
func (a *simAttestor) hint() string {
	return fmt.Sprintf("--attestor %s signs with a CA that attestsim %s-ca made: is %s one?", a.attestor, a.kind, a.ca)
}

// childError is what attestsim said was wrong ("attestsim: error: ..."),
// else how it ended.
func childError(stderr []byte, err error) string {
	for line := range strings.Lines(string(stderr)) {
		if msg, ok := strings.CutPrefix(strings.TrimSpace(line), "attestsim: error: "); ok {
			return msg
		}
	}
	return err.Error()
}

// findAttestsim returns the attestsim to run: $ATTESTKMS_ATTESTSIM, else the
// one next to this executable, else the one on PATH.
func findAttestsim() (string, error) {
	name := "attestsim"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if p := os.Getenv(attestsimEnv); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", &exitError{code: 1, err: fmt.Errorf("attestsim not found: $%s is %s, which is not a file", attestsimEnv, p),
				hint: fmt.Sprintf("point %s at attestsim (go build -o bin/ ./cmd/... builds it), or unset it", attestsimEnv)}
		}
		return p, nil
	}
	var beside string
	if exe, err := os.Executable(); err == nil {
		beside = filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(beside); err == nil && !fi.IsDir() {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	where := "on PATH"
	if beside != "" {
		where = "at " + beside + " or on PATH"
	}
	return "", &exitError{code: 1, err: errors.New("attestsim not found " + where + ": the simulated attestors run it"),
		hint: fmt.Sprintf("build it next to enclavetool (go build -o bin/ ./cmd/...), put it on PATH, or set %s to its path", attestsimEnv)}
}

// limitedBuffer keeps the first max bytes written to it and drops the rest,
// never failing, so that a chatty child does not block on its pipe.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Command attestsim is attestkms's attestation test harness: it makes test
// roots and signs evidence with them, in the shape the real devices return,
// for any public key. Nothing it signs chains to a real root: attestkms
// accepts it only when told to trust the test root.
//
//	attestsim nitro-ca --out DIR [--qingtian]
//	attestsim nitro --ca DIR --public-key enclave.pem --out doc.cbor [flags]
//	attestsim snp-ca --out DIR
//	attestsim snp --ca DIR --public-key enclave.pem --out ev.cbor [flags]
//	attestsim tpm-ca --out DIR
//	attestsim tpm --ca DIR --public-key enclave.pem --out ev.cbor [--pcr N=HEX ...]
//	attestsim tdx-ca --out DIR
//	attestsim tdx-collateral --ca DIR --out DIR2 [flags]
//	attestsim tdx --ca DIR --public-key enclave.pem [--out ev.cbor] [flags]
//
// Run "attestsim COMMAND --help" for a command's flags and examples.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/attestkms/attestkms/internal/version"
)

const usage = `attestsim: the attestkms attestation test harness: test roots, and evidence signed by them

Usage:
  attestsim nitro-ca --out DIR [--qingtian]        make a test root and intermediate in DIR
  attestsim nitro --ca DIR --public-key PEM --out FILE [flags]
                                                   sign an AWS Nitro (or Huawei QingTian, --qingtian) attestation
                                                   document; --nitrotpm: an EC2 NitroTPM one
  attestsim snp-ca --out DIR                       make a test AMD SEV-SNP signing chain (ARK, ASK, VCEK)
  attestsim snp --ca DIR --public-key PEM --out FILE [flags]
                                                   sign an SEV-SNP report, in an evidence envelope
  attestsim tpm-ca --out DIR                       make a test TPM attestation key and its CA
  attestsim tpm --ca DIR --public-key PEM --out FILE [--pcr N=HEX ...]
                                                   sign a TPM 2.0 quote, in an evidence envelope
  attestsim tdx-ca --out DIR                       make a test Intel TDX PKI (root, PCK chain) and its signed collateral
  attestsim tdx-collateral --ca DIR --out DIR2 [flags]
                                                   sign other (stale, revoking...) TDX collateral with it
  attestsim tdx --ca DIR --public-key PEM [--out FILE] [flags]
                                                   sign an Intel TDX quote (version 4), in an evidence envelope

--public-key - reads the key from standard input, --out - writes the evidence
alone to standard output.

Nothing attestsim signs chains to a real root. Tell attestkms to trust the test root:
  attestkms serve --nitro-roots DIR/root.pem              (or --qingtian-roots)
  attestkms serve --snp-roots DIR/roots.pem --tpm-roots DIR/roots.pem
  attestkms serve --tdx-roots DIR/roots.pem --tdx-collateral DIR/collateral
  attestkms verify-evidence --in doc.cbor --nitro-roots DIR/root.pem

Run "attestsim COMMAND --help" for a command's flags and examples, "attestsim
--version" for the build.
`

// exitError carries the exit status (1 failure, 2 usage) and a hint.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(hint, format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...), hint: hint}
}

func failure(err error, hint string) error { return &exitError{code: 1, err: err, hint: hint} }

// env is what a command may use of the outside world.
type env struct {
	stdout, stderr io.Writer
	now            func() time.Time
	stdin          io.Reader // --public-key -; nil reads as empty
}

func main() {
	os.Exit(run(os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, now: time.Now, stdin: os.Stdin}))
}

// commands are attestsim's subcommands; other evidence formats add theirs.
var commands = map[string]func(args []string, e env) error{
	"nitro-ca": runNitroCA,
	"nitro":    runNitro,
	"snp-ca":   runSNPCA,
	"snp":      runSNP,
	"tpm-ca":   runTPMCA,
	"tpm":      runTPM,

	"tdx-ca":         runTDXCA,
	"tdx-collateral": runTDXCollateral,
	"tdx":            runTDX,
}

func run(args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var err error
	switch cmd, ok := commands[args[0]]; {
	case ok:
		err = cmd(args[1:], e)
	case args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help":
		fmt.Fprint(e.stdout, usage)
		return 0
	case version.IsFlag(args[0]):
		fmt.Fprintln(e.stdout, version.String("attestsim"))
		return 0
	default:
		err = usageError("", "unknown command %q", args[0])
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(e.stderr, "attestsim: error: %s\n", strings.TrimSuffix(err.Error(), "."))
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.hint != "" {
			fmt.Fprintf(e.stderr, "attestsim: hint: %s\n", ee.hint)
		}
		if code == 2 {
			fmt.Fprintf(e.stderr, "attestsim: hint: run \"attestsim %s--help\" for usage\n", commandPrefix(args[0]))
		}
	}
	return code
}

func commandPrefix(cmd string) string {
	if _, ok := commands[cmd]; ok {
		return cmd + " "
	}
	return ""
}

// command is a subcommand's flags and the help its --help prints.
type command struct {
	*flag.FlagSet
	synopsis string
	e        env
}

func newFlagSet(name, synopsis string, e env) *command {
	fs := flag.NewFlagSet("attestsim "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parse prints the help, and only for --help
	return &command{fs, synopsis, e}
}

// parse parses args, refusing positional arguments; --help prints the
// command's synopsis, examples and flags to stdout.
func (c *command) parse(args []string) error {
	if err := c.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.e.stdout, c.synopsis)
			fmt.Fprintln(c.e.stdout, "\nFlags:")
			c.SetOutput(c.e.stdout)
			c.PrintDefaults()
			c.SetOutput(io.Discard)
			return err
		}
		return usageError("", "%v", err)
	}
	if c.NArg() > 0 {
		return usageError("", "unexpected argument %q", c.Arg(0))
	}
	return nil
}

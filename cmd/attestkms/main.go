// Command attestkms is the attestkms key service and its admin commands.
//
//	attestkms serve  [--data-dir DIR] [--listen HOST:PORT] [--region NAME] [...]   run the service
//	attestkms init   --data-dir DIR [--region NAME]                new store, prints the admin credential
//	attestkms init   --store postgres://… --root-key SPEC     the same in PostgreSQL, for several nodes
//	attestkms serve  --store postgres://… --root-key SPEC --data-dir DIR   one node of them
//	attestkms credential create|list|delete|rotate --endpoint URL --credential ADMIN.json
//	                                                               manage access keys on the running server
//	attestkms credential create|list|delete|rotate --data-dir DIR  the same, while it is stopped
//	attestkms verify-evidence --in FILE [--at RFC3339]             why was my document refused?
//	attestkms policy lint --in FILE                                the server's checks of a key policy
//	attestkms policy test --in FILE --action ACTION [...]          the server's verdict on one request
//	attestkms audit verify --data-dir DIR [--from FILE]            check the audit log's hash chain
//	attestkms backup --out FILE (--data-dir DIR | --endpoint URL --credential ADMIN.json)
//	attestkms restore --in FILE --data-dir NEWDIR --root-key SPEC [--live DIR]
//	attestkms store check --data-dir DIR [--root-key SPEC]   check every page and record of a store
//	attestkms store protect --data-dir DIR [--root-key SPEC] authenticate and digest an older store's records, once
//	attestkms root-key rotate --data-dir DIR [--root-key SPEC] --to SPEC   reseal the store under another root key
//	attestkms service-key --data-dir DIR                           the answer-signing public keys an enclave pins
//	attestkms service-key rotate --data-dir DIR [--grace-days N | --revoke]   a new answer-signing key, the old ones in their grace (or revoked)
//
// Run "attestkms COMMAND --help" for a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/attestkms/attestkms/internal/version"
)

const usage = `attestkms: a key management service for confidential computing

Usage:
  attestkms serve [flags]                  run the service (all three KMS dialects on one port)
  attestkms init --data-dir DIR            create a store; print the first admin credential as JSON
  attestkms init --store postgres://… --root-key SPEC
                                           the same in a PostgreSQL database that several nodes
                                           serve (serve --store … --root-key … --data-dir NODE_DIR)
  attestkms credential create|list|delete|rotate
                                           manage access keys: on the running server (--endpoint URL
                                           --credential ADMIN.json), or in a stopped server's --data-dir
  attestkms verify-evidence --in FILE      the server's own verification of an attestation document
  attestkms policy lint --in FILE          the server's checks of a key policy: errors and warnings
  attestkms policy test --in FILE --action ACTION [--evidence DOC]
                                           the server's verdict on one request: allowed or denied, and why
  attestkms audit verify --data-dir DIR    check the audit log's hash chain across its rotated files
  attestkms backup --out FILE              a consistent, MACed snapshot of the store: offline (--data-dir DIR)
                                           or from the running server (--endpoint URL --credential ADMIN.json)
  attestkms restore --in FILE --data-dir NEWDIR --root-key SPEC [--live DIR]
                                           verify a backup, then make a new store of it
  attestkms store check --data-dir DIR     check every page and record of a stopped server's store
  attestkms store protect --data-dir DIR   after an upgrade, once: authenticate and digest the records of a
                                           store made before they were (every server stopped); servers refuse
                                           it until then
  attestkms root-key rotate --data-dir DIR --to SPEC
                                           reseal the store under another root key (file:PATH, env:VAR,
                                           pkcs11:URI), crash-safe, then compact it; or --endpoint URL
  attestkms service-key --data-dir DIR     the answer-signing public key(s), PEM, with their SHA-256
                                           fingerprints: what an enclave pins (also GET /service-key)
  attestkms service-key rotate --data-dir DIR [--grace-days N | --revoke]
                                           a new answer-signing key; the current ones keep signing N days
                                           (--revoke: a leaked key: they stop at once, the new one signs now)
  attestkms tdx-collateral check --dir DIR what Intel TDX collateral a directory holds, for which FMSPCs, until when

With no flags, serve uses ./attestkms-data (created on first start), 127.0.0.1:8080
and region us-east-1 (--region; every key ARN names the one region).
Run "attestkms COMMAND --help" for a command's flags, "attestkms --version" for the build.
`

// exitError carries the process exit status: 1 for failures, 2 for usage, 3
// for unreadable input.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func withHint(err error, hint string) error { return &exitError{code: 1, err: err, hint: hint} }

// exitStatus ends a command that has said everything on stdout (policy
// test's verdict, policy lint's findings) with a status and no message.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(args[1:], stdout, stderr)
	case "init":
		err = runInit(args[1:], stdout, stderr)
	case "credential", "credentials":
		err = runCredential(args[1:], stdout, stderr)
	case "verify-evidence":
		err = runVerifyEvidence(args[1:], stdout, stderr)
	case "policy":
		err = runPolicy(args[1:], stdout, stderr)
	case "audit":
		err = runAudit(args[1:], stdout, stderr)
	case "backup":
		err = runBackup(args[1:], stdout, stderr)
	case "restore":
		err = runRestore(args[1:], stdout, stderr)
	case "store":
		err = runStore(args[1:], stdout, stderr)
	case "root-key":
		err = runRootKey(args[1:], stdout, stderr)
	case "tdx-collateral":
		err = runTDXCollateral(args[1:], stdout, stderr)
	case "service-key":
		err = runServiceKey(args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, version.String("attestkms"))
		return 0
	default:
		err = usageError("unknown command %q", args[0])
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	fmt.Fprintf(stderr, "attestkms: error: %s\n", strings.TrimSuffix(err.Error(), "."))
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.hint != "" {
			fmt.Fprintf(stderr, "attestkms: hint: %s\n", ee.hint)
		}
		if ee.code == 2 {
			fmt.Fprint(stderr, "attestkms: hint: run \"attestkms --help\" for usage\n")
		}
		return ee.code
	}
	return 1
}

// newFlagSet returns a flag set whose --help prints the command's usage and
// examples to stdout.
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("attestkms "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, synopsis)
		fmt.Fprintln(stdout, "\nFlags:")
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	return fs
}

// parseFlags parses args, flags and positional arguments in any order,
// turning a parse failure into a usage error and refusing more than maxArgs
// positional arguments, which it returns.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: 2, err: err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) > maxArgs {
		return nil, usageError("unexpected argument %q", pos[maxArgs])
	}
	return pos, nil
}

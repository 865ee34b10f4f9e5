package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/attestkms/attestkms/enclave"
)

// command is one enclavetool subcommand: its own flags, beside the ones
// every command takes (options, options.go), and what it does with a
// session. Each lives in its own file, named for it.
type command struct {
	name string
	// calls says the command calls attestkms, and so needs a credential
	// (attest does not).
	calls bool
	// flags registers the command's own flags; nil: it has none.
	flags func(fs *flag.FlagSet)
	// check checks them once parsed, before a key is made or evidence asked
	// for; nil: nothing to check.
	check func() error
	// run does the command's work with a ready session.
	run func(ctx context.Context, s *enclave.Session, out *output) error
}

// commands are enclavetool's subcommands. Each is made afresh for a run, so
// that its flags start at their defaults.
var commands = map[string]func() *command{
	"generate-data-key":      generateDataKeyCommand,
	"decrypt":                decryptCommand,
	"generate-random":        generateRandomCommand,
	"derive-shared-secret":   deriveSharedSecretCommand,
	"generate-data-key-pair": generateDataKeyPairCommand,
	"attest":                 attestCommand,
}

// callTimeout bounds a whole command: evidence, the call, the unwrap.
const callTimeout = 2 * time.Minute

// runCommand parses c's flags and the shared ones from args, checks them,
// makes the session and runs c.
func runCommand(c *command, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enclavetool "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	o.register(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: enclavetool %s [flags]\n\nFlags:\n", c.name)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if c.check != nil {
		if err := c.check(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()

	sess, err := o.session(c.calls)
	if err != nil {
		return err
	}
	if c.calls && sess.ServiceKeys == nil {
		// Not an error (tests and the quick starts run without it), but
		// never silent: without it the host can answer in attestkms's
		// place with a key of its choosing (docs/answers.md).
		fmt.Fprintln(stderr, "enclavetool: warning: no --service-key: attestkms's answers are not authenticated, and the enclave's host could substitute a key it chose; pin the service key (attestkms service-key) in the enclave image")
	}
	if o.keepCiphertext != "" {
		sess.KeepCiphertext = keepCiphertexts(o.keepCiphertext, stderr)
	}
	return c.run(ctx, sess, &output{w: stdout, file: o.out})
}

// output is where a command's results go: NAME: base64 lines on stdout, as
// kmstool-enclave-cli prints them, and its result (the secret, or attest's
// document) either among them or, with --out, alone in a new 0600 file.
type output struct {
	w    io.Writer
	file string // --out
}

// print prints a value beside the result (a ciphertext blob, a public key)
// as NAME: base64.
func (o *output) print(name string, b []byte) {
	fmt.Fprintf(o.w, "%s: %s\n", name, base64.StdEncoding.EncodeToString(b))
}

// result prints the result as NAME: base64, or writes it to --out.
func (o *output) result(name string, secret []byte) error {
	if o.file == "" {
		_, err := fmt.Fprintf(o.w, "%s: %s\n", name, base64.StdEncoding.EncodeToString(secret))
		return err
	}
	f, err := os.OpenFile(o.file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

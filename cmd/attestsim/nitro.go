package main

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

const nitroCASynopsis = `Usage: attestsim nitro-ca --out DIR [--qingtian]

Makes a test attestation PKI in DIR, standing in for AWS's (or, with
--qingtian, Huawei's): a P-384 root (root.pem), an intermediate
(intermediate.pem) and the intermediate's key (intermediate.key, mode 0600).
The root's key is thrown away. Documents signed with "attestsim nitro --ca DIR"
chain to root.pem, which attestkms must be told to trust.

Examples:
  attestsim nitro-ca --out testca
  attestkms serve --nitro-roots testca/root.pem

  attestsim nitro-ca --out qtca --qingtian
  attestkms serve --qingtian-roots qtca/root.pem
`

func runNitroCA(args []string, e env) error {
	flags := newFlagSet("nitro-ca", nitroCASynopsis, e)
	out := flags.String("out", "", "make the CA in this `directory` (created if need be; it must not hold a CA already)")
	qingtian := flags.Bool("qingtian", false, "a Huawei QingTian test CA instead of an AWS Nitro one")
	if err := flags.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("", "--out is required")
	}
	format := formatOf(*qingtian)
	ca, err := nitrotest.NewTestCA(format, nil)
	if err != nil {
		return err
	}
	if err := ca.Save(*out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failure(fmt.Errorf("%s already holds a test CA", *out), "choose another --out, or remove "+*out)
		}
		return failure(plain(err), "")
	}
	root := filepath.Join(*out, nitrotest.RootFile)
	fmt.Fprintf(e.stdout, "made a %s test CA in %s\ntrust it with: attestkms serve --%s-roots %s\n", format, *out, format, root)
	return nil
}

const nitroSynopsis = `Usage: attestsim nitro --ca DIR --public-key PEM --out FILE [flags]

Signs an attestation document for the enclave key in --public-key, as the
Nitro Security Module returns it (untagged COSE_Sign1, ES384,
indefinite-length payload map, a leaf certificate valid for three hours), or
as Huawei's QTSM does with --qingtian. PCRs not given are zero, as in a
debug-mode enclave (attestkms refuses those unless started with
--allow-debug-enclaves, or unless a key policy asks for a PCR value).

--public-key takes a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC
KEY", or a private key ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"),
of which the public half is used; "-" reads it from standard input, and
--out - writes the document alone to standard output (enclavetool's
simulated attestors run attestsim so). attestkms accepts RSA keys of 2048 to 4096
bits only; attestsim signs any key, with a warning.

Examples:
  attestsim nitro-ca --out testca
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out enclave.pem
  attestsim nitro --ca testca --public-key enclave.pem --out doc.cbor \
      --pcr 0=$(printf '%096d' 1) --user-data aGVsbG8= --nonce bm9uY2U=
  attestkms verify-evidence --in doc.cbor --nitro-roots testca/root.pem

  attestsim nitro --ca qtca --qingtian --digest SHA256 --public-key enclave.pem --out qt.cbor

--nitrotpm signs an AWS NitroTPM document instead (what nitro-tpm-attest
returns on an EC2 instance), with the same Nitro test CA: its registers are
nitrotpm_pcrs, all 24 (--pcr 0 to 23; those not given are zero), its module
id ends in -tpm..., and its key may be any key (real ones bind EC P-256;
attestkms verifies such a document but wraps secrets to RSA keys only).

  attestsim nitro --ca testca --nitrotpm --public-key enclave.pem --out tpm.cbor \
      --pcr 4=$(printf '%096d' 4)
`

// pcrFlag collects --pcr N=HEX.
type pcrFlag map[int][]byte

func (p pcrFlag) String() string {
	var s []string
	for i, v := range p {
		s = append(s, fmt.Sprintf("%d=%x", i, v))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func (p pcrFlag) Set(v string) error {
	n, h, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want N=HEX")
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i > 31 {
		return fmt.Errorf("PCR index %q is not 0 to 31", n)
	}
	if _, dup := p[i]; dup {
		return fmt.Errorf("PCR%d given twice", i)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return fmt.Errorf("PCR%d is not hex: %v", i, err)
	}
	p[i] = b
	return nil
}

func runNitro(args []string, e env) error {
	flags := newFlagSet("nitro", nitroSynopsis, e)
	caDir := flags.String("ca", "", "sign with the test CA in this `directory` (made by attestsim nitro-ca)")
	qingtian := flags.Bool("qingtian", false, "a Huawei QingTian document (the CA must be a QingTian one)")
	nitroTPM := flags.Bool("nitrotpm", false, "an AWS NitroTPM document (nitrotpm_pcrs, 24 registers; a Nitro CA signs it)")
	digest := flags.String("digest", "SHA384", "the document's `digest`: SHA384 (Nitro); QingTian also SHA256 or SHA512")
	keyFile := flags.String("public-key", "", "the enclave's key, a PEM `file` (- for standard input): public key, or private key of which the public half is used")
	pcrs := pcrFlag{}
	flags.Var(pcrs, "pcr", "set PCR `N=HEX` (0 to 31, NitroTPM 0 to 23; repeat the flag for each PCR); PCRs not given are zero")
	userData := flags.String("user-data", "", "the document's user_data, `base64` (default null)")
	nonce := flags.String("nonce", "", "the document's nonce, `base64` (default null)")
	timestamp := flags.String("timestamp", "", "the document's timestamp, `RFC3339` (default now)")
	moduleID := flags.String("module-id", "", "the enclave's module `id` (default i-0123456789abcdef0-enc0123456789abcdef)")
	out := flags.String("out", "", "write the document to this `file` (- for stdout)")
	if err := flags.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--ca", *caDir}, {"--public-key", *keyFile}, {"--out", *out}} {
		if f.v == "" {
			return usageError("", "%s is required", f.name)
		}
	}

	if *nitroTPM && *qingtian {
		return usageError("", "--nitrotpm and --qingtian exclude each other: NitroTPM documents are AWS's")
	}
	format := formatOf(*qingtian)
	sizes := map[string]int{"SHA256": 32, "SHA384": 48, "SHA512": 64}
	size, ok := sizes[*digest]
	switch {
	case !ok:
		return usageError("", "--digest %q is not SHA256, SHA384 or SHA512", *digest)
	case format == attest.FormatNitro && *digest != "SHA384":
		return usageError("add --qingtian for a QingTian document", "the digest of a Nitro document is SHA384, not %s", *digest)
	}
	doc := nitrotest.Document{Digest: *digest, ModuleID: *moduleID, Timestamp: e.now(), NitroTPM: *nitroTPM}
	registers := 16
	if *nitroTPM {
		registers = 24
		for i := range pcrs {
			if i > 23 {
				return usageError("a NitroTPM document has registers 0 to 23", "--pcr %d is out of range", i)
			}
		}
	}
	doc.PCRs = make(map[int][]byte, registers)
	for i := range registers {
		doc.PCRs[i] = make([]byte, size)
	}
	for i, v := range pcrs {
		if len(v) != size {
			return usageError(fmt.Sprintf("%s PCRs are %d bytes, %d hex digits", *digest, size, 2*size), "--pcr %d is %d bytes", i, len(v))
		}
		doc.PCRs[i] = v
	}
	var err error
	if doc.UserData, err = decodeBase64("--user-data", *userData); err != nil {
		return err
	}
	if doc.Nonce, err = decodeBase64("--nonce", *nonce); err != nil {
		return err
	}
	if *timestamp != "" {
		if doc.Timestamp, err = time.Parse(time.RFC3339Nano, *timestamp); err != nil {
			return usageError("for example --timestamp 2026-01-01T12:00:00Z", "--timestamp %q is not RFC 3339", *timestamp)
		}
	}

	if doc.PublicKey, err = enclaveKeyDER(e, *keyFile); err != nil {
		return err
	}

	ca, err := nitrotest.LoadTestCA(*caDir, nil)
	if err != nil {
		hint := ""
		if errors.Is(err, fs.ErrNotExist) {
			hint = "make one with: attestsim nitro-ca --out " + *caDir
			if *qingtian {
				hint += " --qingtian"
			}
		}
		return failure(plain(err), hint)
	}
	if ca.Format != format {
		hint := "add --qingtian"
		if ca.Format == attest.FormatNitro {
			hint = "drop --qingtian, or use a CA made with attestsim nitro-ca --qingtian"
		}
		return failure(fmt.Errorf("%s is a %s test CA, not a %s one", *caDir, ca.Format, format), hint)
	}
	b, err := ca.Sign(doc)
	if err != nil {
		return failure(plain(err), "")
	}
	what, shownID := string(format), displayModuleID(doc.ModuleID)
	if *nitroTPM {
		what = string(attest.FormatNitroTPM)
		if doc.ModuleID == "" {
			shownID = nitrotest.DefaultNitroTPMModuleID
		}
	}
	return writeEvidence(e, *out, b, fmt.Sprintf("a %s document of %d bytes, module id %s, timestamp %s",
		what, len(b), shownID, doc.Timestamp.UTC().Format(time.RFC3339Nano)))
}

// plain drops nitrotest's prefix from its errors: the user ran attestsim.
func plain(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "nitrotest: "); ok {
		return errors.New(msg)
	}
	return err
}

func displayModuleID(id string) string {
	if id == "" {
		return "i-0123456789abcdef0-enc0123456789abcdef"
	}
	return id
}

func formatOf(qingtian bool) attest.Format {
	if qingtian {
		return attest.FormatQingtian
	}
	return attest.FormatNitro
}

// decodeBase64 decodes a flag's standard base64, padded or not; "" is nil
// (the field is then null).
func decodeBase64(name, v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return nil, usageError("encode it with: printf 'data' | base64", "%s is not base64", name)
		}
	}
	return b, nil
}

// maxPublicKeyFile bounds what --public-key reads: a PEM RSA-4096 private
// key, the largest key it takes, is about 3.3 KB.
const maxPublicKeyFile = 64 << 10

// readPublicKey reads a PEM public key, or the public half of a PEM private
// key, from a file or, for "-", from standard input.
// keyDigestPEM is the PEM block type of an HPKE ML-KEM-768+X25519 key's
// SHA-256, which the evidence binds in place of the key (docs/hpke.md):
// enclavetool --key-type mlkem768x25519 sends one.
const keyDigestPEM = "ATTESTKMS HPKE KEY DIGEST"

// keyDigest is such a digest, put into the evidence as it is.
type keyDigest []byte

func readPublicKey(e env, path string) (crypto.PublicKey, error) {
	r := e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, failure(err, "")
		}
		defer f.Close()
		r = f
	} else {
		path = "standard input"
		if r == nil {
			r = strings.NewReader("")
		}
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPublicKeyFile+1))
	if err != nil {
		return nil, failure(err, "")
	}
	if len(data) > maxPublicKeyFile {
		return nil, failure(fmt.Errorf("%s: more than %d bytes, larger than any key", path, maxPublicKeyFile), "")
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, failure(fmt.Errorf("%s is not PEM", path), "convert a DER key with: openssl pkey -inform DER -in KEY -pubout")
	}
	var key any
	switch blk.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case keyDigestPEM:
		if len(blk.Bytes) != 32 {
			return nil, failure(fmt.Errorf("%s: a %s block of %d bytes; it is the 32-byte SHA-256 of an ML-KEM-768+X25519 key", path, keyDigestPEM, len(blk.Bytes)), "")
		}
		return keyDigest(blk.Bytes), nil
	default:
		return nil, failure(fmt.Errorf("%s holds a PEM %q block, not a key", path, blk.Type), `want "PUBLIC KEY", "RSA PUBLIC KEY", "`+keyDigestPEM+`" or a private key`)
	}
	if err != nil {
		return nil, failure(fmt.Errorf("%s: %w", path, err), "")
	}
	if k, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return k.Public(), nil // a private key
	}
	return key, nil
}

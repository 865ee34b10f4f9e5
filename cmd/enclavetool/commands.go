package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/enclave"
)

// options are every command's flags.
type options struct {
	endpoint, region, credential, accessKeyID, secretAccessKey, caBundle string
	attestor, simCA, snpVCEK, simMeasurement, tpmPCRs, tpmAKChain        string
	simPCRs                                                              pcrFlags
	keyBits                                                              int
	keyFile, out, keepCiphertext                                         string
	// command-specific
	keyID, keySpec, keyPairSpec, ciphertext, publicKey string
	numberOfBytes                                      int
	encryptionContext                                  contextFlags
}

func register(fs *flag.FlagSet, o *options, cmd string) {
	fs.StringVar(&o.endpoint, "endpoint", "http://127.0.0.1:8080", "attestkms's `URL`")
	fs.StringVar(&o.region, "region", "us-east-1", "the `region` to sign for: the server's (attestkms serve --region), which refuses any other")
	fs.StringVar(&o.credential, "credential", "", "an access key pair as attestkms writes it (admin-credential.json, `file`)")
	fs.StringVar(&o.accessKeyID, "access-key-id", os.Getenv("AWS_ACCESS_KEY_ID"), "access key `id` (default $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&o.secretAccessKey, "secret-access-key", "", "secret access `key` (default $AWS_SECRET_ACCESS_KEY; prefer the environment)")
	fs.StringVar(&o.caBundle, "ca-bundle", "", "trust only the CAs in this PEM `file` for attestkms's TLS certificate")
	fs.StringVar(&o.attestor, "attestor", "nitro", "where the evidence comes from: `nitro` (/dev/nsm), snp (an SEV-SNP guest: configfs-tsm or /dev/sev-guest), tpm (/dev/tpmrm0), or sim, sim-snp, sim-tpm (attestsim's test CAs)")
	fs.StringVar(&o.simCA, "sim-ca", "", "with --attestor sim, sim-snp or sim-tpm: the `directory` attestsim nitro-ca, snp-ca or tpm-ca made")
	fs.Var(&o.simPCRs, "sim-pcr", "with --attestor sim: a measurement `N=HEX` (repeatable; default PCR0 = SHA-384 of \"attestkms simulated enclave\", others zero); with sim-tpm: a SHA-256 PCR (default PCR0-7 fixed test values)")
	fs.StringVar(&o.simMeasurement, "sim-measurement", "", "with --attestor sim-snp: the report's MEASUREMENT, 48 bytes of `hex` (default SHA-384 of \"attestkms simulated guest\")")
	fs.StringVar(&o.snpVCEK, "snp-vcek", "", "with --attestor snp: the VCEK certificate `file` (DER or PEM, from AMD's KDS) to send when the host supplies none")
	fs.StringVar(&o.tpmAKChain, "tpm-ak-chain", "", "with --attestor tpm: a PEM `file` of the intermediates from the TPM's AK certificate towards attestkms's --tpm-roots (on Google Cloud, its EK/AK intermediate), sent as ak_chain")
	fs.StringVar(&o.tpmPCRs, "tpm-pcrs", "0,1,2,3,4,5,6,7", "with --attestor tpm: the SHA-256 PCRs to quote, a comma-separated `list`")
	fs.IntVar(&o.keyBits, "key-bits", 2048, "size of the ephemeral RSA key: 2048, 3072 or 4096")
	fs.StringVar(&o.keyFile, "key", "", "use this PEM RSA private key `file` instead of an ephemeral one")
	fs.StringVar(&o.out, "out", "", "write the secret's raw bytes to this new `file` (mode 0600) instead of printing it")
	fs.StringVar(&o.keepCiphertext, "keep-ciphertext", "", "save each CiphertextForRecipient (CMS, BER) in this `directory` as OPERATION-N.ber, for openssl cms -decrypt with the --key file")
	switch cmd {
	case "generate-data-key":
		fs.StringVar(&o.keyID, "key-id", "", "the KMS key: id, ARN, alias/NAME or alias ARN")
		fs.StringVar(&o.keySpec, "key-spec", "", "AES_256 or AES_128 (default AES_256 unless --number-of-bytes)")
		fs.IntVar(&o.numberOfBytes, "number-of-bytes", 0, "data key length, 1-1024")
		fs.Var(&o.encryptionContext, "encryption-context", "a `KEY=VALUE` pair of the encryption context (repeatable)")
	case "decrypt":
		fs.StringVar(&o.keyID, "key-id", "", "the KMS key the ciphertext must be under (optional)")
		fs.StringVar(&o.ciphertext, "ciphertext", "", "the ciphertext blob, base64 (or @FILE for raw bytes)")
		fs.Var(&o.encryptionContext, "encryption-context", "a `KEY=VALUE` pair of the encryption context (repeatable)")
	case "generate-random":
		fs.IntVar(&o.numberOfBytes, "number-of-bytes", 32, "how many bytes, 1-1024")
	case "derive-shared-secret":
		fs.StringVar(&o.keyID, "key-id", "", "the KMS KEY_AGREEMENT key")
		fs.StringVar(&o.publicKey, "public-key", "", "the peer's public key `file` (PEM or DER SubjectPublicKeyInfo)")
	case "generate-data-key-pair":
		fs.StringVar(&o.keyID, "key-id", "", "the KMS key that encrypts the private key")
		fs.StringVar(&o.keyPairSpec, "key-pair-spec", "ECC_NIST_P256", "RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 or ECC_SECG_P256K1")
		fs.Var(&o.encryptionContext, "encryption-context", "a `KEY=VALUE` pair of the encryption context (repeatable)")
	}
}

func runCommand(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enclavetool "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	register(fs, &o, cmd)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: enclavetool %s [flags]\n\nFlags:\n", cmd)
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sess, err := o.session()
	if err != nil {
		return err
	}
	if o.keepCiphertext != "" {
		sess.KeepCiphertext = keepCiphertexts(o.keepCiphertext, stderr)
	}
	if cmd == "attest" {
		doc, err := sess.Attestor.Attest(sess.Key.PublicKeyDER(), nil, nil)
		if err != nil {
			return err
		}
		return o.emit(stdout, "DOCUMENT", doc)
	}
	if sess.Client.AccessKeyID == "" || sess.Client.SecretAccessKey == "" {
		return usageError("no credential: give --credential FILE or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	switch cmd {
	case "generate-data-key":
		if o.keyID == "" {
			return usageError("--key-id is required")
		}
		if o.keySpec == "" && o.numberOfBytes == 0 {
			o.keySpec = "AES_256"
		}
		dk, err := sess.GenerateDataKey(ctx, o.keyID, o.keySpec, o.numberOfBytes, o.encryptionContext.m)
		if err != nil {
			return err
		}
		defer clear(dk.Plaintext)
		fmt.Fprintf(stdout, "CIPHERTEXT: %s\n", base64.StdEncoding.EncodeToString(dk.CiphertextBlob))
		return o.emit(stdout, "PLAINTEXT", dk.Plaintext)
	case "decrypt":
		blob, err := readBlob(o.ciphertext)
		if err != nil {
			return err
		}
		pt, err := sess.Decrypt(ctx, blob, o.keyID, o.encryptionContext.m)
		if err != nil {
			return err
		}
		defer clear(pt)
		return o.emit(stdout, "PLAINTEXT", pt)
	case "generate-random":
		b, err := sess.GenerateRandom(ctx, o.numberOfBytes)
		if err != nil {
			return err
		}
		defer clear(b)
		return o.emit(stdout, "PLAINTEXT", b)
	case "derive-shared-secret":
		if o.keyID == "" || o.publicKey == "" {
			return usageError("--key-id and --public-key are required")
		}
		peer, err := readSPKI(o.publicKey)
		if err != nil {
			return err
		}
		secret, err := sess.DeriveSharedSecret(ctx, o.keyID, peer)
		if err != nil {
			return err
		}
		defer clear(secret)
		return o.emit(stdout, "SHARED_SECRET", secret)
	case "generate-data-key-pair":
		if o.keyID == "" {
			return usageError("--key-id is required")
		}
		kp, err := sess.GenerateDataKeyPair(ctx, o.keyID, o.keyPairSpec, o.encryptionContext.m)
		if err != nil {
			return err
		}
		defer clear(kp.PrivateKey)
		fmt.Fprintf(stdout, "PUBLIC_KEY: %s\n", base64.StdEncoding.EncodeToString(kp.PublicKey))
		fmt.Fprintf(stdout, "PRIVATE_KEY_CIPHERTEXT: %s\n", base64.StdEncoding.EncodeToString(kp.PrivateKeyCiphertextBlob))
		return o.emit(stdout, "PRIVATE_KEY", kp.PrivateKey)
	}
	return usageError("unknown command %q", cmd)
}

// emit prints the secret as NAME: base64, or writes it to --out.
func (o *options) emit(stdout io.Writer, name string, secret []byte) error {
	if o.out == "" {
		_, err := fmt.Fprintf(stdout, "%s: %s\n", name, base64.StdEncoding.EncodeToString(secret))
		return err
	}
	f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (o *options) session() (*enclave.Session, error) {
	var err error
	s := &enclave.Session{Client: &enclave.Client{Endpoint: strings.TrimSuffix(o.endpoint, "/"), Region: o.region}}
	if s.Client.AccessKeyID, s.Client.SecretAccessKey, err = o.credentials(); err != nil {
		return nil, err
	}
	if o.caBundle != "" {
		pemBytes, err := os.ReadFile(o.caBundle)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca-bundle %s holds no PEM certificate", o.caBundle)
		}
		s.Client.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}}
	}
	if o.keyFile != "" {
		b, err := os.ReadFile(o.keyFile)
		if err != nil {
			return nil, err
		}
		if s.Key, err = enclave.ParseKey(b); err != nil {
			return nil, err
		}
	} else if s.Key, err = enclave.NewKey(o.keyBits); err != nil {
		return nil, err
	}
	switch o.attestor {
	case "nitro":
		s.Attestor = enclave.NSM{}
	case "sim":
		if o.simCA == "" {
			return nil, usageError("--attestor sim needs --sim-ca DIR (made by attestsim nitro-ca)")
		}
		if s.Attestor, err = newSimAttestor(o.simCA, o.simPCRs.m); err != nil {
			return nil, err
		}
	case "snp":
		a := enclave.SNP{}
		if o.snpVCEK != "" {
			if a.VCEK, err = readCertificate(o.snpVCEK); err != nil {
				return nil, err
			}
		}
		s.Attestor = a
	case "tpm":
		pcrs, err := parsePCRList(o.tpmPCRs)
		if err != nil {
			return nil, err
		}
		a := enclave.TPM{PCRs: pcrs}
		if o.tpmAKChain != "" {
			if a.AKChain, err = readCertificates(o.tpmAKChain); err != nil {
				return nil, err
			}
		}
		s.Attestor = a
	case "sim-snp":
		if o.simCA == "" {
			return nil, usageError("--attestor sim-snp needs --sim-ca DIR (made by attestsim snp-ca)")
		}
		if s.Attestor, err = newSimSNPAttestor(o.simCA, o.simMeasurement); err != nil {
			return nil, err
		}
	case "sim-tpm":
		if o.simCA == "" {
			return nil, usageError("--attestor sim-tpm needs --sim-ca DIR (made by attestsim tpm-ca)")
		}
		if s.Attestor, err = newSimTPMAttestor(o.simCA, o.simPCRs.m); err != nil {
			return nil, err
		}
	default:
		return nil, usageError("--attestor must be nitro, snp, tpm, sim, sim-snp or sim-tpm, not %q", o.attestor)
	}
	return s, nil
}

// keepCiphertexts saves each CiphertextForRecipient in dir as OP-N.ber, in a
// new 0600 file (N the first number not taken, so that earlier runs' files
// stay), and says on stderr when one cannot be saved.
func keepCiphertexts(dir string, stderr io.Writer) func(op string, cfr []byte) {
	return func(op string, cfr []byte) {
		for n := 1; n <= 1000; n++ {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%s-%d.ber", op, n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err == nil {
				_, err = f.Write(cfr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "enclavetool: warning: --keep-ciphertext: %v\n", err)
			}
			return
		}
		fmt.Fprintf(stderr, "enclavetool: warning: --keep-ciphertext: %s holds %s-1.ber to %s-1000.ber already\n", dir, op, op)
	}
}

// credentials come from --credential, else the flags and environment.
func (o *options) credentials() (string, string, error) {
	if o.credential != "" {
		b, err := os.ReadFile(o.credential)
		if err != nil {
			return "", "", err
		}
		var c struct {
			AccessKeyID     string `json:"access_key_id"`
			SecretAccessKey string `json:"secret_access_key"`
		}
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return "", "", fmt.Errorf("--credential %s: not an attestkms credential file", o.credential)
		}
		return c.AccessKeyID, c.SecretAccessKey, nil
	}
	secret := o.secretAccessKey
	if secret == "" {
		secret = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	return o.accessKeyID, secret, nil
}

func readBlob(s string) ([]byte, error) {
	if s == "" {
		return nil, usageError("--ciphertext is required")
	}
	if strings.HasPrefix(s, "@") {
		return os.ReadFile(s[1:])
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, usageError("--ciphertext is not base64 (use @FILE for raw bytes)")
	}
	return b, nil
}

func readSPKI(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: a %q PEM block, want PUBLIC KEY (SubjectPublicKeyInfo)", path, blk.Type)
		}
		return blk.Bytes, nil
	}
	return b, nil
}

type pcrFlags struct{ m map[int][]byte }

func (p *pcrFlags) String() string { return "" }
func (p *pcrFlags) Set(v string) error {
	i, h, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(i)
	if !ok || err != nil || n < 0 || n > 31 {
		return fmt.Errorf("want N=HEX with N from 0 to 31")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return fmt.Errorf("PCR%d: not hex", n)
	}
	if p.m == nil {
		p.m = map[int][]byte{}
	}
	if _, dup := p.m[n]; dup {
		return fmt.Errorf("PCR%d given twice", n) // as attestsim --pcr says
	}
	p.m[n] = b
	return nil
}

type contextFlags struct{ m map[string]string }

func (c *contextFlags) String() string { return "" }
func (c *contextFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE")
	}
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[k] = val
	return nil
}

// hintFor guesses a fix for an attestkms refusal.
func hintFor(err error) string {
	var ae *enclave.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	switch {
	case strings.Contains(ae.Message, "debug mode"):
		return "a simulated enclave with all-zero PCRs is a debug enclave: give --sim-pcr 0=HEX, or start attestkms with --allow-debug-enclaves"
	case strings.Contains(ae.Message, "untrusted certificate chain"):
		return "start attestkms with --nitro-roots pointing at the CA's root.pem (attestsim nitro-ca writes it)"
	case ae.Type == "InvalidSignatureException":
		return "check the credential (--credential, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and the clock"
	case ae.Type == "AccessDeniedException":
		return "the key policy does not allow this enclave: compare its PCRs (enclavetool attest | attestkms verify-evidence) with the policy's conditions"
	}
	return ""
}

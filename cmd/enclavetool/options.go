package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/credfile"
	"github.com/attestkms/attestkms/internal/pemfile"
	"github.com/attestkms/attestkms/internal/vsock"
)

// options are the flags every command takes: where attestkms is and how to
// authenticate to it, where the evidence comes from, the enclave key, and
// where the result goes. A command's own flags are in its file.
type options struct {
	endpoint, region, credential, accessKeyID, secretAccessKey, caBundle string
	attestor, simCA, snpVCEK, simMeasurement, tpmPCRs, tpmAKChain        string
	simPCRs                                                              pcrFlags
	keyBits                                                              int
	keyType, keyFile, out, keepCiphertext                                string
	serviceKey                                                           string
}

// register registers the flags. Where the AWS CLI and SDKs read a setting
// from the environment (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, AWS_REGION,
// AWS_DEFAULT_REGION, AWS_CA_BUNDLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY),
// so does enclavetool, in the same order; a flag given wins.
func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.endpoint, "endpoint", envOr("http://127.0.0.1:8080", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"), "attestkms's `URL` (default $AWS_ENDPOINT_URL_KMS, else $AWS_ENDPOINT_URL, else http://127.0.0.1:8080); in an enclave, through its parent's vsock proxy: vsock://CID:PORT (HTTP) or vsock+https://CID:PORT?name=HOST (TLS for HOST)")
	fs.StringVar(&o.region, "region", envOr("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION"), "the `region` to sign for: the server's (attestkms serve --region), which refuses any other (default $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)")
	fs.StringVar(&o.credential, "credential", "", "an access key pair as attestkms writes it (admin-credential.json, `file`)")
	fs.StringVar(&o.accessKeyID, "access-key-id", os.Getenv("AWS_ACCESS_KEY_ID"), "access key `id` (default $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&o.secretAccessKey, "secret-access-key", "", "secret access `key` (default $AWS_SECRET_ACCESS_KEY; prefer the environment)")
	fs.StringVar(&o.caBundle, "ca-bundle", os.Getenv("AWS_CA_BUNDLE"), "trust only the CAs in this PEM `file` for attestkms's TLS certificate (default $AWS_CA_BUNDLE)")
	fs.StringVar(&o.attestor, "attestor", "nitro", "where the evidence comes from: `nitro` (/dev/nsm), snp (an SEV-SNP guest: configfs-tsm or /dev/sev-guest), tdx (an Intel TDX guest: configfs-tsm or /dev/tdx_guest), tpm (/dev/tpmrm0), nitrotpm (an EC2 instance's NitroTPM, /dev/tpm0, as nitro-tpm-attest), sim, sim-snp, sim-tdx, sim-tpm, sim-nitrotpm (attestsim's test CAs: enclavetool runs attestsim, found at $ATTESTKMS_ATTESTSIM, next to enclavetool, or on PATH), or exec:PROGRAM, for a TEE with no attestor here (a QingTian enclave: docs/vsock.md): run PROGRAM (a path with a slash, else a name looked up on PATH), no shell, no arguments, the environment enclavetool's (less the AWS credential variables) plus ATTESTKMS_NONCE (a fresh 16-byte nonce per request: bind it) and ATTESTKMS_USER_DATA (hex, empty if none); its standard input is the public key to bind (DER SubjectPublicKeyInfo; with --key-type mlkem768x25519 the key's 32-byte SHA-256), its standard output must be the document, raw (COSE_Sign1, or an evidence envelope: docs/evidence.md), 1 byte to "+fmt.Sprint(attest.MaxEvidence>>10)+" KiB; it must exit 0, within "+enclave.DefaultExecTimeout.String()+" (else it is killed); any other end fails the command, quoting the first "+fmt.Sprint(enclave.ExecMaxStderr>>10)+" KiB of its standard error")
	fs.StringVar(&o.simCA, "sim-ca", "", "with --attestor sim, sim-snp, sim-tdx, sim-tpm or sim-nitrotpm: the `directory` attestsim nitro-ca, snp-ca, tdx-ca or tpm-ca made")
	fs.Var(&o.simPCRs, "sim-pcr", "with --attestor sim: a measurement `N=HEX` (repeatable; default PCR0 = SHA-384 of \"attestkms simulated enclave\", others zero); with sim-tpm: a SHA-256 PCR (default PCR0-7 fixed test values); with sim-tdx: RTMR N (0 to 3, 48 bytes; default zero); with sim-nitrotpm: a SHA-384 NitroTPM register, 0 to 23 (others zero)")
	fs.StringVar(&o.simMeasurement, "sim-measurement", "", "with --attestor sim-snp: the report's MEASUREMENT, 48 bytes of `hex` (default SHA-384 of \"attestkms simulated guest\"); with sim-tdx: the quote's MRTD (default attestsim's)")
	fs.StringVar(&o.snpVCEK, "snp-vcek", "", "with --attestor snp: the VCEK certificate `file` (DER or PEM, from AMD's KDS) to send when the host supplies none")
	fs.StringVar(&o.tpmAKChain, "tpm-ak-chain", "", "with --attestor tpm: a PEM `file` of the intermediates from the TPM's AK certificate towards attestkms's --tpm-roots (on Google Cloud, its EK/AK intermediate), sent as ak_chain")
	fs.StringVar(&o.tpmPCRs, "tpm-pcrs", "0,1,2,3,4,5,6,7", "with --attestor tpm: the SHA-256 PCRs to quote, a comma-separated `list`")
	fs.StringVar(&o.keyType, "key-type", enclave.KeyTypeRSA, "the ephemeral key's `type`, and so the Recipient's algorithm: rsa (RSAES_OAEP_SHA_256, CMS as AWS KMS returns it), p256 (HPKE_P256_SHA256_AES256GCM: the evidence binds the P-256 key) or mlkem768x25519 (HPKE_MLKEM768X25519_SHA256_AES256GCM, post-quantum: the evidence binds the key's SHA-256, the Recipient carries the key); rsa stays the default because it is what AWS KMS and its SDKs speak; what stops a host that substitutes an answer is --service-key, whatever the type (docs/hpke.md, docs/answers.md)")
	fs.IntVar(&o.keyBits, "key-bits", 2048, "size of the ephemeral RSA key: 2048, 3072 or 4096")
	fs.StringVar(&o.keyFile, "key", "", "use this PEM RSA private key `file` instead of an ephemeral one (--key-type rsa only)")
	fs.StringVar(&o.out, "out", "", "write the secret's raw bytes to this new `file` (mode 0600) instead of printing it")
	fs.StringVar(&o.serviceKey, "service-key", "", "pin attestkms's answer-signing key: a PEM `file` (attestkms service-key, GET /service-key) or its SHA-256 fingerprint (64 hex digits; several comma-separated); every answer must then be signed by it over this request's document and body, the operation, key and fields, or it is refused (docs/answers.md). Set it, built into the measured image: without it the enclave's host can answer in attestkms's place with a data key it chose")
	fs.StringVar(&o.keepCiphertext, "keep-ciphertext", "", "save each CiphertextForRecipient (CMS, BER) in this `directory` as OPERATION-N.ber, for openssl cms -decrypt with the --key file")
}

// dialVsock dials a vsock address: vsock.Dial, replaced in tests where the
// kernel offers no vsock loopback.
var dialVsock = vsock.Dial

// envOr is the first of the environment variables that is set and not
// empty, else def.
func envOr(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

// session makes the session the flags describe: the client (with a
// credential when calls is set), the enclave key and the attestor.
func (o *options) session(calls bool) (*enclave.Session, error) {
	var err error
	s := &enclave.Session{Client: &enclave.Client{Endpoint: strings.TrimSuffix(o.endpoint, "/"), Region: o.region}}
	if s.Client.AccessKeyID, s.Client.SecretAccessKey, err = o.credentials(); err != nil {
		return nil, err
	}
	if calls && (s.Client.AccessKeyID == "" || s.Client.SecretAccessKey == "") {
		return nil, usageError("no credential: give --credential FILE or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	var tr *http.Transport
	if o.caBundle != "" {
		certs, err := pemfile.TrustStore(o.caBundle)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle: %w", err)
		}
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		tr = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if strings.HasPrefix(o.endpoint, "vsock") {
		// An enclave's one channel: vsock to its parent, whose proxy
		// forwards to attestkms (docs/vsock.md). The URL the client
		// requests names the server (TLS verifies it, the request signs
		// it); every connection dials the vsock address instead.
		e, err := vsock.ParseEndpoint(o.endpoint)
		if err != nil {
			return nil, usageError("--endpoint: %v", err)
		}
		if tr == nil {
			tr = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
		}
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return dialVsock(ctx, e.Addr) }
		s.Client.Endpoint = e.URL
	}
	if tr != nil {
		s.Client.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	if o.keyFile != "" && o.keyType != enclave.KeyTypeRSA {
		return nil, usageError("--key is an RSA key file: give it with --key-type rsa only")
	}
	if o.keyFile != "" {
		b, err := os.ReadFile(o.keyFile)
		if err != nil {
			return nil, err
		}
		if s.Key, err = enclave.ParseKey(b); err != nil {
			return nil, err
		}
	} else if s.Key, err = enclave.NewKeyOfType(o.keyType, o.keyBits); err != nil {
		if o.keyType != enclave.KeyTypeRSA && o.keyType != enclave.KeyTypeP256 && o.keyType != enclave.KeyTypeMLKEM768X25519 {
			return nil, usageError("--key-type must be rsa, p256 or mlkem768x25519, not %q", o.keyType)
		}
		return nil, err
	}
	if s.Attestor, err = o.newAttestor(); err != nil {
		return nil, err
	}
	if s.ServiceKeys, err = serviceKeyPins(o.serviceKey); err != nil {
		return nil, err
	}
	return s, nil
}

// serviceKeyPins are the fingerprints --service-key names: nil for none;
// the value is fingerprints (64 hex digits, "SHA256:" allowed before each,
// comma-separated), else a PEM file of Ed25519 public keys.
func serviceKeyPins(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var pins []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimPrefix(strings.TrimSpace(f), "SHA256:")
		if !answer.IsFingerprint(f) {
			pins = nil
			break
		}
		pins = append(pins, strings.ToLower(f))
	}
	if pins != nil {
		return pins, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("--service-key: neither fingerprints (64 hex digits) nor a readable PEM file: %w", err)
	}
	keys, err := answer.ParsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("--service-key %s: %w", v, err)
	}
	for _, k := range keys {
		pins = append(pins, answer.Fingerprint(k))
	}
	return pins, nil
}

// newAttestor is the attestor --attestor names, with its flags.
func (o *options) newAttestor() (enclave.Attestor, error) {
	switch o.attestor {
	case "nitro":
		return enclave.NSM{}, nil
	case "snp":
		a := enclave.SNP{}
		if o.snpVCEK != "" {
			var err error
			if a.VCEK, err = readCertificate(o.snpVCEK); err != nil {
				return nil, err
			}
		}
		return a, nil
	case "tdx":
		return enclave.TDX{}, nil
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
		return a, nil
	case "nitrotpm":
		return enclave.NitroTPM{}, nil
	case "exec:":
		return nil, usageError("--attestor exec:PROGRAM needs a program: a path, or a name on PATH")
	case "sim", "sim-snp", "sim-tpm", "sim-tdx", "sim-nitrotpm":
		if o.simCA == "" {
			made := map[string]string{"sim": "nitro-ca", "sim-snp": "snp-ca", "sim-tpm": "tpm-ca", "sim-tdx": "tdx-ca", "sim-nitrotpm": "nitro-ca"}[o.attestor]
			return nil, usageError("--attestor %s needs --sim-ca DIR (made by attestsim %s)", o.attestor, made)
		}
		a, err := newSimAttestor(o.attestor, o.simCA, o.simPCRs.m, o.simMeasurement)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	if prog, ok := strings.CutPrefix(o.attestor, "exec:"); ok {
		// The program's arguments would need quoting rules; a wrapper
		// script gives it any it needs.
		return enclave.Exec{Path: prog}, nil
	}
	return nil, usageError("--attestor must be nitro, snp, tdx, tpm, nitrotpm, sim, sim-snp, sim-tdx, sim-tpm, sim-nitrotpm or exec:PROGRAM, not %q", o.attestor)
}

// credentials come from --credential, else the flags and environment.
func (o *options) credentials() (string, string, error) {
	if o.credential != "" {
		c, err := credfile.Read(o.credential)
		if err != nil {
			return "", "", fmt.Errorf("--credential: %w", err)
		}
		return c.AccessKeyID, c.SecretAccessKey, nil
	}
	secret := o.secretAccessKey
	if secret == "" {
		secret = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	return o.accessKeyID, secret, nil
}

// readCertificate reads the one certificate of a DER or PEM file
// (--snp-vcek), as DER.
func readCertificate(path string) ([]byte, error) {
	certs, err := pemfile.CertificatesOrDER(path)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s: %d certificates; want one", path, len(certs))
	}
	return certs[0].Raw, nil
}

// readCertificates reads the certificates of a PEM file, or one DER
// certificate (--tpm-ak-chain), as DER.
func readCertificates(path string) ([][]byte, error) {
	certs, err := pemfile.CertificatesOrDER(path)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out, nil
}

// parsePCRList reads --tpm-pcrs: comma-separated indices 0 to 23.
func parsePCRList(v string) ([]uint, error) {
	var out []uint
	seen := map[uint64]bool{}
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 8)
		if err != nil || n > 23 || seen[n] {
			return nil, usageError("--tpm-pcrs %q: want distinct PCR indices 0 to 23, comma-separated", v)
		}
		seen[n] = true
		out = append(out, uint(n))
	}
	return out, nil
}

// pcrFlags collects --sim-pcr N=HEX.
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

// contextFlags collects --encryption-context KEY=VALUE.
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

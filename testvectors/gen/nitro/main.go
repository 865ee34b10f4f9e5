// Command nitro generates the Nitro and QingTian attestation vectors in
// testvectors/nitro/generated: one document per scenario, signed by
// attest/nitro/nitrotest with test roots drawn from a fixed seed, and beside
// each a JSON file saying at what time, with which roots, and with what
// outcome ("ok" or an attest kind) the document verifies. Regenerating gives
// the same bytes; main_test.go checks that it does.
//
// Usage (from this directory, or with go generate):
//
//	go run . -out ../../nitro/generated -corpus ../../../attest/nitro/testdata/fuzz/FuzzVerify
//
//go:generate go run . -out ../../nitro/generated -corpus ../../../attest/nitro/testdata/fuzz/FuzzVerify
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// seed is the vectors' only source of randomness.
var seed = [32]byte([]byte("attestkms nitro test vectors v1\x00"))

// t0 is when the generated documents are made.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	nitroRoots    = "nitro_test_root.pem"
	qingtianRoots = "qingtian_test_root.pem"
)

// Vector is the JSON beside each document.
type Vector struct {
	Document    string  `json:"document"`        // the document's file, in the same directory
	Format      string  `json:"format"`          // the verifier's format: "nitro" or "qingtian"
	Roots       string  `json:"roots,omitempty"` // a PEM file of roots, in the same directory; empty: the format's default
	At          string  `json:"at"`              // the verifier's time, RFC 3339
	Expect      string  `json:"expect"`          // "ok", or the attest error kind: "ErrMalformed", "ErrSignature", "ErrChain", "ErrExpired", "ErrKey"
	Description string  `json:"description"`
	Claims      *Claims `json:"claims,omitempty"` // when ok: what the claims must say
}

// Claims are the expected claims of an "ok" vector.
type Claims struct {
	ModuleID string `json:"module_id"`
	Digest   string `json:"digest"`
	Time     string `json:"time"`
	Debug    bool   `json:"debug"`
	PCRCount int    `json:"pcr_count"`
	PCR0     string `json:"pcr0"`
	// NitroTPM documents: how many registers, and register 4's value.
	NitroTPMPCRCount int    `json:"nitrotpm_pcr_count,omitempty"`
	NitroTPMPCR4     string `json:"nitrotpm_pcr4,omitempty"`
	KeyUsable        *bool  `json:"key_usable,omitempty"`
	PublicKeySHA256  string `json:"public_key_sha256"`
	UserData         string `json:"user_data_hex,omitempty"`
	Nonce            string `json:"nonce_hex,omitempty"`
}

func main() {
	out := flag.String("out", "../../nitro/generated", "write the vectors to this `directory`")
	corpus := flag.String("corpus", "", "also write fuzz seeds to this `directory` (attest/nitro/testdata/fuzz/FuzzVerify)")
	flag.Parse()
	files, err := Generate()
	if err == nil {
		err = write(*out, files)
	}
	if err == nil && *corpus != "" {
		// The real documents, one directory up, are seeds too.
		var real []string
		real, err = filepath.Glob(filepath.Join(*out, "..", "*.cose"))
		for _, path := range real {
			var b []byte
			if b, err = os.ReadFile(path); err != nil {
				break
			}
			files[filepath.Base(path)] = b
		}
		if err == nil {
			err = write(*corpus, Corpus(files))
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen/nitro: error: %v\n", err)
		os.Exit(1)
	}
}

func write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// scenario is one vector: a document to sign (or another's to reuse) and
// how it must verify.
type scenario struct {
	name        string
	ca          *nitrotest.CA // who signs; nil: reuse document
	doc         nitrotest.Document
	reuse       string // the name of another scenario's document
	format      attest.Format
	roots       string
	at          time.Time
	expect      string
	description string
}

// Generate returns the vectors' files by name.
func Generate() (map[string][]byte, error) {
	r := rand.NewChaCha8(seed)
	nca, err := nitrotest.NewTestCA(attest.FormatNitro, r)
	if err != nil {
		return nil, err
	}
	qca, err := nitrotest.NewTestCA(attest.FormatQingtian, r)
	if err != nil {
		return nil, err
	}
	rsa2048, err := nitrotest.NewTestRSAKey(r, 2048)
	if err != nil {
		return nil, err
	}
	rsa1024, err := nitrotest.NewTestRSAKey(r, 1024)
	if err != nil {
		return nil, err
	}
	ecBytes := make([]byte, 32)
	if _, err := io.ReadFull(r, ecBytes); err != nil {
		return nil, err
	}
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), ecBytes)
	if err != nil {
		return nil, err
	}
	spki := func(pub any) []byte {
		b, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			panic(err)
		}
		return b
	}
	key := spki(&rsa2048.PublicKey)

	// Production-like measurements: PCR0-2 and 8 set, 3 and 4 as the host
	// sets them, the rest zero.
	pcrs := func(size int) map[int][]byte {
		m := make(map[int][]byte, 16)
		for i := range 16 {
			m[i] = make([]byte, size)
			if i <= 4 || i == 8 {
				s := sha256.Sum256([]byte(fmt.Sprintf("attestkms test pcr %d", i)))
				m[i] = bytes.Repeat(s[:], 2)[:size]
			}
		}
		return m
	}
	genuine := func(digest string, size int) nitrotest.Document {
		return nitrotest.Document{
			ModuleID:  "i-0123456789abcdef0-enc0123456789abcdef",
			Digest:    digest,
			Timestamp: t0,
			PCRs:      pcrs(size),
			PublicKey: key,
			UserData:  []byte("attestkms test user data\n"),
			Nonce:     []byte("attestkms test nonce\n"),
		}
	}
	nitro := func(edit func(*nitrotest.Document)) nitrotest.Document {
		d := genuine("SHA384", 48)
		if edit != nil {
			edit(&d)
		}
		return d
	}
	soon := t0.Add(time.Second)
	mal, sig, chain, exp, bad := "ErrMalformed", "ErrSignature", "ErrChain", "ErrExpired", "ErrKey"
	n := func(name string, edit func(*nitrotest.Document), expect, description string) scenario {
		return scenario{name: name, ca: nca, doc: nitro(edit), format: attest.FormatNitro, roots: nitroRoots, at: soon, expect: expect, description: description}
	}
	q := func(name, digest string, size int, edit func(*nitrotest.Document), expect, description string) scenario {
		d := genuine(digest, size)
		d.ModuleID = "qingtian-0123456789abcdef"
		if edit != nil {
			edit(&d)
		}
		return scenario{name: name, ca: qca, doc: d, format: attest.FormatQingtian, roots: qingtianRoots, at: soon, expect: expect, description: description}
	}
	pcrs33 := pcrs(48)
	for i := 16; i < 33; i++ {
		pcrs33[i] = make([]byte, 48)
	}
	pcr32 := pcrs(48)
	pcr32[32] = make([]byte, 48)

	scenarios := []scenario{
		n("nitro_ok", nil, "ok", "a genuine document as the NSM makes it today: untagged, indefinite-length payload map, RSA-2048 key"),
		n("nitro_ok_debug", func(d *nitrotest.Document) { d.PCRs = zeroPCRs(48) }, "ok", "all PCRs zero: a debug-mode enclave (Debug true)"),
		n("nitro_ok_tagged", func(d *nitrotest.Document) { d.Tagged = true }, "ok", "COSE_Sign1_Tagged (0xD2)"),
		n("nitro_ok_definite", func(d *nitrotest.Document) { d.DefiniteLength = true }, "ok", "definite-length payload map, as the NSM made them before 2025"),
		n("nitro_ok_foreign_cabundle_root", func(d *nitrotest.Document) { d.ForeignRoot = true }, "ok", "cabundle[0] is a stranger's root, but the chain reaches the configured root: cabundle[0] is never read"),
		n("nitro_bad_signature", func(d *nitrotest.Document) { d.FlipSignature = true }, sig, "one bit of the signature flipped"),
		n("nitro_tampered_payload", func(d *nitrotest.Document) { d.TamperPayload = true }, sig, "module_id changed after signing"),
		n("nitro_signed_by_other_key", func(d *nitrotest.Document) { d.SignWithOtherKey = true }, sig, "signed by a key that is not the leaf's"),
		n("nitro_untrusted_ca", func(d *nitrotest.Document) { d.ForeignCA = true }, chain, "a whole chain from another CA, its root in cabundle[0]: a document that brings its own root"),
		n("nitro_leaf_impostor", func(d *nitrotest.Document) { d.LeafImpostor = true }, chain, "a leaf naming the intermediate as issuer, signed by another key"),
		n("nitro_no_intermediate", func(d *nitrotest.Document) { d.OmitIntermediate = true }, chain, "cabundle holds the root only: the leaf's issuer is missing"),
		n("nitro_expired_leaf", func(d *nitrotest.Document) { d.ExpiredLeaf = true }, exp, "the leaf expired an hour before the document's timestamp"),
		{name: "nitro_stale", reuse: "nitro_ok", format: attest.FormatNitro, roots: nitroRoots, at: t0.Add(5*time.Minute + time.Second), expect: exp, description: "nitro_ok verified 5 min 1 s after its timestamp (leaf still valid)"},
		n("nitro_future", func(d *nitrotest.Document) { d.Timestamp = t0.Add(30 * time.Minute) }, exp, "timestamp 30 minutes after the verifier's time, signed with nitro_ok's (valid) leaf"),
		n("nitro_key_rsa1024", func(d *nitrotest.Document) { d.PublicKey = spki(&rsa1024.PublicKey) }, bad, "an RSA-1024 enclave key"),
		n("nitro_key_ec_p256", func(d *nitrotest.Document) { d.PublicKey = spki(&ec.PublicKey) }, "ok", "an EC P-256 enclave key: a Recipient with HPKE_P256_SHA256_AES256GCM only (docs/hpke.md)"),
		n("nitro_key_missing", func(d *nitrotest.Document) { d.PublicKey = nil }, bad, "public_key is null"),
		n("nitro_key_garbage", func(d *nitrotest.Document) { d.PublicKey = bytes.Repeat([]byte{1}, 1024) }, bad, "public_key is 1024 bytes of 0x01, as in the real 2024-09-07 document"),
		n("nitro_digest_sha256", func(d *nitrotest.Document) { d.Digest, d.PCRs = "SHA256", pcrs(32) }, mal, "SHA256 and ES256 (a P-256 leaf): QingTian's, not Nitro's"),
		n("nitro_header_es256", func(d *nitrotest.Document) { d.HeaderAlg = -7 }, mal, "protected header {1: -7} (ES256) on an ES384 document"),
		n("nitro_header_extra", func(d *nitrotest.Document) { d.ExtraHeader = true }, mal, "a content type beside alg in the protected header"),
		n("nitro_unprotected_kid", func(d *nitrotest.Document) { d.UnprotectedKID = true }, mal, "a kid in the unprotected header"),
		n("nitro_duplicate_key", func(d *nitrotest.Document) { d.DuplicateKey = "pcrs" }, mal, "the payload key pcrs twice"),
		n("nitro_unknown_field", func(d *nitrotest.Document) { d.UnknownField = true }, mal, "an unknown payload field, vendor_data"),
		n("nitro_trailing_bytes", func(d *nitrotest.Document) { d.TrailingBytes = true }, mal, "a byte after the payload map, inside the signed payload"),
		n("nitro_33_pcrs", func(d *nitrotest.Document) { d.PCRs = pcrs33 }, mal, "33 PCRs"),
		n("nitro_pcr_index_32", func(d *nitrotest.Document) { d.PCRs = pcr32 }, mal, "a PCR with index 32"),
		n("nitro_cabundle_9", func(d *nitrotest.Document) { d.PadCABundle = 7 }, mal, "9 certificates in cabundle"),
		n("nitro_user_data_1025", func(d *nitrotest.Document) { d.UserData = bytes.Repeat([]byte{'u'}, 1025) }, mal, "user_data of 1025 bytes"),
		n("nitro_certificate_array", func(d *nitrotest.Document) {
			d.Edit = func(fs []nitrotest.Field) []nitrotest.Field {
				for i, f := range fs {
					if f.Key == "certificate" {
						a := []int{}
						for _, b := range f.Value.([]byte) {
							a = append(a, int(b))
						}
						fs[i].Value = a
					}
				}
				return fs
			}
		}, mal, "certificate as an array of integers instead of a byte string"),
		n("nitro_pubkey_name", func(d *nitrotest.Document) { d.KeyName = "pubkey" }, mal, "the key under QingTian's name pubkey"),

		q("qingtian_ok_sha384", "SHA384", 48, nil, "ok", "a genuine QingTian document, ES384, key named public_key"),
		q("qingtian_ok_pubkey", "SHA384", 48, func(d *nitrotest.Document) { d.KeyName = "pubkey" }, "ok", "the key named pubkey, as Huawei documents it"),
		q("qingtian_ok_sha256", "SHA256", 32, nil, "ok", "ES256 (P-256 leaf), SHA256, 32-byte PCRs"),
		q("qingtian_ok_sha512", "SHA512", 64, nil, "ok", "ES512 (P-521 leaf), SHA512, 64-byte PCRs"),
		q("qingtian_both_key_names", "SHA384", 48, func(d *nitrotest.Document) { d.BothKeyNames = true }, mal, "the key under both public_key and pubkey"),
		q("qingtian_cabundle_5", "SHA384", 48, func(d *nitrotest.Document) { d.PadCABundle = 3 }, mal, "5 certificates in cabundle; QingTian allows 4"),
		{name: "qingtian_as_nitro", reuse: "qingtian_ok_sha384", format: attest.FormatNitro, roots: nitroRoots, at: soon, expect: chain, description: "qingtian_ok_sha384 given to the Nitro verifier"},
		{name: "nitro_as_qingtian", reuse: "nitro_ok", format: attest.FormatQingtian, roots: qingtianRoots, at: soon, expect: chain, description: "nitro_ok given to the QingTian verifier"},
	}
	// AWS NitroTPM documents, after the others so that their bytes stay.
	scenarios = append(scenarios, nitroTPMScenarios(nca, key, spki(&ec.PublicKey), soon)...)

	files := map[string][]byte{
		nitroRoots:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nca.Root.Raw}),
		qingtianRoots: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: qca.Root.Raw}),
	}
	var readme strings.Builder
	readme.WriteString(readmeHead)
	for _, s := range scenarios {
		docFile := s.reuse + ".cose"
		if s.reuse == "" {
			docFile = s.name + ".cose"
			b, err := s.ca.Sign(s.doc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			files[docFile] = b
		}
		if files[docFile] == nil {
			return nil, fmt.Errorf("%s: no document %s", s.name, docFile)
		}
		v := Vector{Document: docFile, Format: string(s.format), Roots: s.roots, At: s.at.Format(time.RFC3339Nano), Expect: s.expect, Description: s.description}
		if s.expect == "ok" {
			v.Claims = claimsOf(s.doc)
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, err
		}
		files[s.name+".json"] = append(b, '\n')
		fmt.Fprintf(&readme, "| %s | %s | %s | %s | %s |\n", s.name+".json", docFile, v.At, v.Expect, v.Description)
	}
	files["README.md"] = []byte(readme.String())
	return files, nil
}

const readmeHead = `# Generated Nitro and QingTian vectors

Made by testvectors/gen/nitro (` + "`go generate ./testvectors/gen/nitro`" + `) with attest/nitro/nitrotest from a
fixed seed: regenerating gives these bytes exactly (its test checks). Each JSON names its document, the
verifier's format, roots (nitro_test_root.pem or qingtian_test_root.pem, test roots whose keys exist nowhere),
time and the expected outcome: ` + "`ok`" + ` (with the claims) or the attest error kind. attest/nitro's
TestVectors runs them all. Do not edit: regenerate.

| vector | document | at | expect | scenario |
|---|---|---|---|---|
`

// claimsOf is what the verifier must find in a genuine document.
func claimsOf(d nitrotest.Document) *Claims {
	if d.NitroTPM {
		sum := sha256.Sum256(d.PublicKey)
		pcrs := d.PCRs
		if pcrs == nil {
			pcrs = nitrotest.NitroTPMPCRs()
		}
		moduleID := d.ModuleID
		if moduleID == "" {
			moduleID = nitrotest.DefaultNitroTPMModuleID
		}
		_, _, err := attest.ParseBoundKey(d.PublicKey)
		usable := err == nil
		return &Claims{
			ModuleID: moduleID, Digest: "SHA384", Time: d.Timestamp.UTC().Format(time.RFC3339Nano),
			PublicKeySHA256: hex.EncodeToString(sum[:]), UserData: hex.EncodeToString(d.UserData), Nonce: hex.EncodeToString(d.Nonce),
			NitroTPMPCRCount: len(pcrs), NitroTPMPCR4: hex.EncodeToString(pcrs[4]), KeyUsable: &usable,
		}
	}
	pcrs := d.PCRs
	debug := bytes.Equal(pcrs[0], make([]byte, len(pcrs[0])))
	sum := sha256.Sum256(d.PublicKey)
	return &Claims{
		ModuleID:        d.ModuleID,
		Digest:          d.Digest,
		Time:            d.Timestamp.UTC().Format(time.RFC3339Nano),
		Debug:           debug,
		PCRCount:        len(pcrs),
		PCR0:            hex.EncodeToString(pcrs[0]),
		PublicKeySHA256: hex.EncodeToString(sum[:]),
		UserData:        hex.EncodeToString(d.UserData),
		Nonce:           hex.EncodeToString(d.Nonce),
	}
}

func zeroPCRs(size int) map[int][]byte {
	m := make(map[int][]byte, 16)
	for i := range 16 {
		m[i] = make([]byte, size)
	}
	return m
}

// Corpus returns fuzz seeds, in go test's corpus format, for every
// generated document.
func Corpus(files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte)
	var names []string
	for name := range files {
		if strings.HasSuffix(name, ".cose") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		out["seed-"+strings.TrimSuffix(name, ".cose")] = fuzzSeed(files[name])
	}
	return out
}

func fuzzSeed(b []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
}

// nitroTPMScenarios are the AWS NitroTPM vectors: documents as
// nitro-tpm-attest returns them, signed by the Nitro test CA.
func nitroTPMScenarios(nca *nitrotest.CA, rsaKey, ecKey []byte, at time.Time) []scenario {
	mal, sig, chain := "ErrMalformed", "ErrSignature", "ErrChain"
	t := func(name string, edit func(*nitrotest.Document), expect, description string) scenario {
		d := nitrotest.Document{NitroTPM: true, Timestamp: t0, PublicKey: rsaKey}
		if edit != nil {
			edit(&d)
		}
		return scenario{name: name, ca: nca, doc: d, format: attest.FormatNitroTPM, roots: nitroRoots, at: at, expect: expect, description: description}
	}
	setField := func(key string, v any) func([]nitrotest.Field) []nitrotest.Field {
		return func(fs []nitrotest.Field) []nitrotest.Field {
			for i := range fs {
				if fs[i].Key == key {
					fs[i].Value = v
					return fs
				}
			}
			return append(fs, nitrotest.Field{Key: key, Value: v})
		}
	}
	pcrs := func(edit func(map[int][]byte)) map[int][]byte {
		m := nitrotest.NitroTPMPCRs()
		edit(m)
		return m
	}
	return []scenario{
		t("nitrotpm_ok", nil, "ok", "a genuine NitroTPM document: indefinite-length payload map, 24 SHA-384 registers, RSA-2048 key, user_data and nonce null"),
		t("nitrotpm_ok_ec_p256", func(d *nitrotest.Document) {
			d.PublicKey, d.UserData, d.Nonce = ecKey, []byte("attestkms test user data\n"), []byte("attestkms test nonce\n")
		}, "ok", "an EC P-256 key, as real deployments bind for HPKE: genuine (claims, KeyUnusable set), never a Recipient"),
		t("nitrotpm_bad_signature", func(d *nitrotest.Document) { d.FlipSignature = true }, sig, "one bit of the signature flipped"),
		t("nitrotpm_untrusted_ca", func(d *nitrotest.Document) { d.ForeignCA = true }, chain, "a whole chain from another CA"),
		t("nitrotpm_both_pcrs", func(d *nitrotest.Document) { d.Edit = setField("pcrs", nitrotest.NitroTPMPCRs()) }, mal, "both pcrs and nitrotpm_pcrs"),
		t("nitrotpm_pcr_index_24", func(d *nitrotest.Document) { d.PCRs = pcrs(func(m map[int][]byte) { m[24] = m[0] }) }, mal, "a register with index 24"),
		t("nitrotpm_pcr_47_bytes", func(d *nitrotest.Document) { d.PCRs = pcrs(func(m map[int][]byte) { m[4] = m[4][:47] }) }, mal, "register 4 of 47 bytes"),
		t("nitrotpm_pcr_missing", func(d *nitrotest.Document) { d.PCRs = pcrs(func(m map[int][]byte) { delete(m, 23) }) }, mal, "23 registers: register 23 missing"),
		t("nitrotpm_user_data_text", func(d *nitrotest.Document) { d.Edit = setField("user_data", "text") }, mal, "user_data a text string, neither bytes nor null"),
		t("nitrotpm_duplicate_key", func(d *nitrotest.Document) { d.DuplicateKey = "nitrotpm_pcrs" }, mal, "nitrotpm_pcrs twice"),
		t("nitrotpm_enclave_module_id", func(d *nitrotest.Document) { d.ModuleID = "i-0123456789abcdef0-enc0123456789abcdef" }, mal, "an enclave's module id (-enc) on a NitroTPM document"),
		{name: "nitro_as_nitrotpm", reuse: "nitro_ok", format: attest.FormatNitroTPM, roots: nitroRoots, at: at, expect: mal, description: "nitro_ok (an enclave document) given to a NitroTPM-only verifier"},
		{name: "nitrotpm_as_qingtian", reuse: "nitrotpm_ok", format: attest.FormatQingtian, roots: qingtianRoots, at: at, expect: chain, description: "nitrotpm_ok given to the QingTian verifier"},
	}
}

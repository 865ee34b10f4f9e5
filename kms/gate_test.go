package kms

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/policy"
)

// The attestation gate, walked over every exported operation of Service.
//
// The key under attack is attestation-bound, and its policy (stored with
// BypassPolicyLockoutSafetyCheck, as a careless or hostile administrator
// would) allows the account everything: "kms:*" beside an enclave-only
// statement. Policy evaluation alone would release every secret of it; the
// gate must not. A caller without a Recipient is refused every operation that
// releases a plaintext secret of the key (policy.SecretActions) with
// ErrAccessDenied saying "attestation-bound", and no response; every other
// operation is not refused by the gate, and its answer carries no secret.
//
// TestGateEveryOperation fails when Service gains an exported method that no
// row here classifies: a new operation must be walked through the gate (or
// named in gateNoKey with the reason it touches no key) before it ships.

// gateBoundPolicy allows the account's root every action on the key, and
// Decrypt once more for one enclave image: attestation-bound, and unsafe (the
// safety check refuses it through "kms:*").
func gateBoundPolicy(acct Account) string {
	root := principalARN(acct, adminName)
	return `{"Version":"2012-10-17","Statement":[
	  {"Sid":"everything","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:Decrypt","Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("ab", 48) + `"}}}]}`
}

// gateEnv is one row's fresh world: a bound symmetric key with a ciphertext
// of it, a bound KEY_AGREEMENT key with a peer, an unbound symmetric key the
// attacker may use freely, and an enclave the verifier vouches for.
type gateEnv struct {
	s         *Service
	c         *Call
	sym, ka   string
	blob      []byte // Encrypt under sym
	pairBlob  []byte // a data key pair's private key, sealed under sym
	peerSPKI  []byte
	unbound   string
	enclave   *enclave
	wrapToPEM []byte // an RSA public key the attacker holds the private half of
}

// alias is a name for this row's alias: rows share one service.
func (g *gateEnv) alias() string { return "alias/gate-" + g.sym }

func newGateEnv(t *testing.T, s *Service, e *enclave) *gateEnv {
	t.Helper()
	c := s.testCall()
	pol := gateBoundPolicy(s.Account())
	mk := func(spec KeySpec, usage KeyUsage) string {
		md, err := s.CreateKey(bg, c, &CreateKeyRequest{KeySpec: spec, KeyUsage: usage, Policy: pol, BypassPolicyLockoutSafetyCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	g := &gateEnv{s: s, c: c, sym: mk("", ""), ka: mk(EccNistP256, KeyAgreement), unbound: mustKey(t, s, "", "").KeyID, enclave: e}
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: g.sym, Plaintext: []byte("the secret of a bound key")})
	if err != nil {
		t.Fatalf("Encrypt under a bound key: %v", err)
	}
	g.blob = enc.CiphertextBlob
	kp, err := s.GenerateDataKeyPairWithoutPlaintext(bg, c, &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: g.sym, KeyPairSpec: PairEccNistP256})
	if err != nil {
		t.Fatalf("GenerateDataKeyPairWithoutPlaintext under a bound key: %v", err)
	}
	g.pairBlob = kp.PrivateKeyCiphertextBlob
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	g.peerSPKI, _ = x509.MarshalPKIXPublicKey(peer.PublicKey())
	g.wrapToPEM, _ = x509.MarshalPKIXPublicKey(&e.priv.PublicKey)
	return g
}

// gateRow is one way to call one operation on a bound key without a
// Recipient. action is the policy action it is authorized as; gated says
// whether the gate must refuse it; attested, for a gated row, is the same
// call with a verified Recipient, which the policy allows (nil where the
// operation takes none).
type gateRow struct {
	method, variant, action string
	gated                   bool
	call                    func(g *gateEnv) (any, error)
	attested                func(g *gateEnv) (any, error)
}

func gateRows() []gateRow {
	rcpt := func(g *gateEnv) *Recipient { return g.enclave.recipient(0) }
	return []gateRow{
		// The operations that release a plaintext secret of the key.
		{method: "Decrypt", action: "kms:Decrypt", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.Decrypt(bg, g.c, &DecryptRequest{CiphertextBlob: g.blob})
			},
			attested: func(g *gateEnv) (any, error) {
				return g.s.Decrypt(bg, g.c, &DecryptRequest{CiphertextBlob: g.blob, Recipient: rcpt(g)})
			}},
		{method: "Decrypt", variant: "a data key pair's private key", action: "kms:Decrypt", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.Decrypt(bg, g.c, &DecryptRequest{CiphertextBlob: g.pairBlob, KeyID: g.sym})
			}},
		{method: "Decrypt", variant: "EncryptTo a bare public key", action: "kms:Decrypt", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.Decrypt(bg, g.c, &DecryptRequest{CiphertextBlob: g.blob, EncryptTo: &PublicKeyWrap{PublicKey: g.wrapToPEM, Algorithm: "RSAES_OAEP_SHA_256"}})
			}},
		{method: "Decrypt", variant: "DryRun", action: "kms:Decrypt", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.Decrypt(bg, g.c, &DecryptRequest{CiphertextBlob: g.blob, DryRun: true})
			}},
		{method: "GenerateDataKey", action: "kms:GenerateDataKey", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.GenerateDataKey(bg, g.c, &GenerateDataKeyRequest{KeyID: g.sym, KeySpec: "AES_256"})
			},
			attested: func(g *gateEnv) (any, error) {
				return g.s.GenerateDataKey(bg, g.c, &GenerateDataKeyRequest{KeyID: g.sym, KeySpec: "AES_256", Recipient: rcpt(g)})
			}},
		{method: "GenerateDataKey", variant: "EncryptTo a bare public key", action: "kms:GenerateDataKey", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.GenerateDataKey(bg, g.c, &GenerateDataKeyRequest{KeyID: g.sym, NumberOfBytes: 32, EncryptTo: &PublicKeyWrap{PublicKey: g.wrapToPEM, Algorithm: "RSAES_OAEP_SHA_256"}})
			}},
		{method: "GenerateDataKeyPair", action: "kms:GenerateDataKeyPair", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.GenerateDataKeyPair(bg, g.c, &GenerateDataKeyPairRequest{KeyID: g.sym, KeyPairSpec: PairEccNistP256})
			},
			attested: func(g *gateEnv) (any, error) {
				return g.s.GenerateDataKeyPair(bg, g.c, &GenerateDataKeyPairRequest{KeyID: g.sym, KeyPairSpec: PairEccNistP256, Recipient: rcpt(g)})
			}},
		{method: "DeriveSharedSecret", action: "kms:DeriveSharedSecret", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.DeriveSharedSecret(bg, g.c, &DeriveSharedSecretRequest{KeyID: g.ka, KeyAgreementAlgorithm: AlgECDH, PublicKey: g.peerSPKI})
			},
			attested: func(g *gateEnv) (any, error) {
				return g.s.DeriveSharedSecret(bg, g.c, &DeriveSharedSecretRequest{KeyID: g.ka, KeyAgreementAlgorithm: AlgECDH, PublicKey: g.peerSPKI, Recipient: rcpt(g)})
			}},
		// ReEncrypt takes no Recipient: from a bound key it is always
		// refused, or the plaintext would land under a key the caller opens.
		{method: "ReEncrypt", variant: "to an unbound key", action: "kms:ReEncryptFrom", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.ReEncrypt(bg, g.c, &ReEncryptRequest{CiphertextBlob: g.blob, DestinationKeyID: g.unbound})
			}},
		{method: "ReEncrypt", variant: "to itself", action: "kms:ReEncryptFrom", gated: true,
			call: func(g *gateEnv) (any, error) {
				return g.s.ReEncrypt(bg, g.c, &ReEncryptRequest{CiphertextBlob: g.blob, DestinationKeyID: g.sym})
			}},

		// Every other operation on a key: not the gate's business.
		{method: "Encrypt", action: "kms:Encrypt", call: func(g *gateEnv) (any, error) {
			return g.s.Encrypt(bg, g.c, &EncryptRequest{KeyID: g.sym, Plaintext: []byte("x")})
		}},
		{method: "ReEncrypt", variant: "from an unbound key to the bound one", action: "kms:ReEncryptTo", call: func(g *gateEnv) (any, error) {
			enc, err := g.s.Encrypt(bg, g.c, &EncryptRequest{KeyID: g.unbound, Plaintext: []byte("x")})
			if err != nil {
				return nil, err
			}
			return g.s.ReEncrypt(bg, g.c, &ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: g.sym})
		}},
		{method: "GenerateDataKeyWithoutPlaintext", action: "kms:GenerateDataKeyWithoutPlaintext", call: func(g *gateEnv) (any, error) {
			return g.s.GenerateDataKeyWithoutPlaintext(bg, g.c, &GenerateDataKeyWithoutPlaintextRequest{KeyID: g.sym, KeySpec: "AES_256"})
		}},
		{method: "GenerateDataKeyPairWithoutPlaintext", action: "kms:GenerateDataKeyPairWithoutPlaintext", call: func(g *gateEnv) (any, error) {
			return g.s.GenerateDataKeyPairWithoutPlaintext(bg, g.c, &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: g.sym, KeyPairSpec: PairRSA2048})
		}},
		{method: "GetPublicKey", action: "kms:GetPublicKey", call: func(g *gateEnv) (any, error) {
			return g.s.GetPublicKey(bg, g.c, &GetPublicKeyRequest{KeyID: g.ka})
		}},
		{method: "DescribeKey", action: "kms:DescribeKey", call: func(g *gateEnv) (any, error) {
			return g.s.DescribeKey(bg, g.c, &DescribeKeyRequest{KeyID: g.sym})
		}},
		{method: "UpdateKeyDescription", action: "kms:UpdateKeyDescription", call: func(g *gateEnv) (any, error) {
			return g.s.UpdateKeyDescription(bg, g.c, &UpdateKeyDescriptionRequest{KeyID: g.sym, Description: "bound"})
		}},
		{method: "CreateAlias", action: "kms:CreateAlias", call: func(g *gateEnv) (any, error) {
			return g.s.CreateAlias(bg, g.c, &CreateAliasRequest{AliasName: g.alias(), TargetKeyID: g.sym})
		}},
		{method: "UpdateAlias", action: "kms:UpdateAlias", call: func(g *gateEnv) (any, error) {
			if _, err := g.s.CreateAlias(bg, g.c, &CreateAliasRequest{AliasName: g.alias(), TargetKeyID: g.unbound}); err != nil {
				return nil, err
			}
			return g.s.UpdateAlias(bg, g.c, &UpdateAliasRequest{AliasName: g.alias(), TargetKeyID: g.sym})
		}},
		{method: "DeleteAlias", action: "kms:DeleteAlias", call: func(g *gateEnv) (any, error) {
			if _, err := g.s.CreateAlias(bg, g.c, &CreateAliasRequest{AliasName: g.alias(), TargetKeyID: g.sym}); err != nil {
				return nil, err
			}
			return g.s.DeleteAlias(bg, g.c, &DeleteAliasRequest{AliasName: g.alias()})
		}},
		{method: "ListAliases", action: "kms:ListAliases", call: func(g *gateEnv) (any, error) {
			return g.s.ListAliases(bg, g.c, &ListAliasesRequest{KeyID: g.sym})
		}},
		{method: "PutKeyPolicy", action: "kms:PutKeyPolicy", call: func(g *gateEnv) (any, error) {
			return g.s.PutKeyPolicy(bg, g.c, &PutKeyPolicyRequest{KeyID: g.sym, Policy: gateBoundPolicy(g.s.Account()), BypassPolicyLockoutSafetyCheck: true})
		}},
		{method: "GetKeyPolicy", action: "kms:GetKeyPolicy", call: func(g *gateEnv) (any, error) {
			return g.s.GetKeyPolicy(bg, g.c, &GetKeyPolicyRequest{KeyID: g.sym})
		}},
		{method: "ListKeyPolicies", action: "kms:ListKeyPolicies", call: func(g *gateEnv) (any, error) {
			return g.s.ListKeyPolicies(bg, g.c, &ListKeyPoliciesRequest{KeyID: g.sym})
		}},
		{method: "DisableKey", action: "kms:DisableKey", call: func(g *gateEnv) (any, error) {
			return g.s.DisableKey(bg, g.c, &DisableKeyRequest{KeyID: g.sym})
		}},
		{method: "EnableKey", action: "kms:EnableKey", call: func(g *gateEnv) (any, error) {
			return g.s.EnableKey(bg, g.c, &EnableKeyRequest{KeyID: g.sym})
		}},
		{method: "ScheduleKeyDeletion", action: "kms:ScheduleKeyDeletion", call: func(g *gateEnv) (any, error) {
			return g.s.ScheduleKeyDeletion(bg, g.c, &ScheduleKeyDeletionRequest{KeyID: g.sym, PendingWindowInDays: 7})
		}},
		{method: "CancelKeyDeletion", action: "kms:CancelKeyDeletion", call: func(g *gateEnv) (any, error) {
			if _, err := g.s.ScheduleKeyDeletion(bg, g.c, &ScheduleKeyDeletionRequest{KeyID: g.sym, PendingWindowInDays: 7}); err != nil {
				return nil, err
			}
			return g.s.CancelKeyDeletion(bg, g.c, &CancelKeyDeletionRequest{KeyID: g.sym})
		}},
		{method: "EnableKeyRotation", action: "kms:EnableKeyRotation", call: func(g *gateEnv) (any, error) {
			return g.s.EnableKeyRotation(bg, g.c, &EnableKeyRotationRequest{KeyID: g.sym, RotationPeriodInDays: 0})
		}},
		{method: "DisableKeyRotation", action: "kms:DisableKeyRotation", call: func(g *gateEnv) (any, error) {
			return g.s.DisableKeyRotation(bg, g.c, &DisableKeyRotationRequest{KeyID: g.sym})
		}},
		{method: "GetKeyRotationStatus", action: "kms:GetKeyRotationStatus", call: func(g *gateEnv) (any, error) {
			return g.s.GetKeyRotationStatus(bg, g.c, &GetKeyRotationStatusRequest{KeyID: g.sym})
		}},
		{method: "RotateKeyOnDemand", action: "kms:RotateKeyOnDemand", call: func(g *gateEnv) (any, error) {
			return g.s.RotateKeyOnDemand(bg, g.c, &RotateKeyOnDemandRequest{KeyID: g.sym})
		}},
		{method: "ListKeyRotations", action: "kms:ListKeyRotations", call: func(g *gateEnv) (any, error) {
			return g.s.ListKeyRotations(bg, g.c, &ListKeyRotationsRequest{KeyID: g.sym, AllKeyMaterial: true})
		}},
		{method: "TagResource", action: "kms:TagResource", call: func(g *gateEnv) (any, error) {
			return g.s.TagResource(bg, g.c, &TagResourceRequest{KeyID: g.sym, Tags: []Tag{{TagKey: "k", TagValue: "v"}}})
		}},
		{method: "UntagResource", action: "kms:UntagResource", call: func(g *gateEnv) (any, error) {
			return g.s.UntagResource(bg, g.c, &UntagResourceRequest{KeyID: g.sym, TagKeys: []string{"k"}})
		}},
		{method: "ListResourceTags", action: "kms:ListResourceTags", call: func(g *gateEnv) (any, error) {
			return g.s.ListResourceTags(bg, g.c, &ListResourceTagsRequest{KeyID: g.sym})
		}},
	}
}

// gateNoKey are the exported methods that take no key, with why the gate has
// nothing to say about them.
var gateNoKey = map[string]string{
	"CreateKey":        "makes a key; its policy is checked by checkNewPolicy (TestGateSafetyCheckAtCreation)",
	"ListKeys":         "lists key ids and ARNs",
	"GenerateRandom":   "random bytes of no key",
	"AuditLog":         "the audit log, for failed authentications and reopening",
	"AuditRefusal":     "records a request no operation ran: no key",
	"Ready":            "reports the store and the audit log",
	"Credentials":      "the signature check's credential lookup, no key",
	"Admin":            "administration (credentials, maintenance, policy problems): no key operation, and no secret of a key",
	"Close":            "closes the store",
	"Backup":           "the sealed records of every key, never a plaintext: admin permission only (requireAdmin), not a key policy's to grant",
	"RotateRootKey":    "reseals every key's material under another root key and answers counts, never a plaintext: admin permission only (requireAdmin)",
	"Account":          "the account's ids",
	"Region":           "the server's region",
	"Node":             "the node's id",
	"ServiceKeys":      "the public half of the answer-signing keys: public by design (GET /service-key), no key of the account",
	"RotateServiceKey": "makes a new answer-signing key, of no account key: admin permission only (requireAdmin)",
	// The admin API's operations: credentials, for a caller with the admin
	// permission (requireAdmin); no key, and no secret of one.
	"CreateCredential": "makes an access key pair, no key",
	"ListCredentials":  "lists credentials, no key",
	"DeleteCredential": "deletes an access key, no key",
	"RotateCredential": "replaces an access key pair, no key",
}

// gateAdmin are Admin's methods: administration takes no key from a request
// and returns no secret of one.
var gateAdmin = map[string]string{
	"CreateCredential": "administration (cmd/attestkms credential), no key",
	"RotateRootKey":    "administration (cmd/attestkms root-key rotate): reseals, answers counts, no key's secret",
	"RotateServiceKey": "administration (cmd/attestkms service-key rotate): a new answer-signing key, answers its public part",
	"ListCredentials":  "administration, no key",
	"DeleteCredential": "administration, no key",
	"RotateCredential": "administration, no key",
	"Maintain":         "deletes expired keys and rotates due ones; returns no secret",
	"PolicyProblems":   "lists the keys whose stored policy no longer parses; no secret",
	"KeyStates":        "counts keys by state for the metrics; no secret",
	"ProtectedRecords": "says whether Open authenticated the store's records (attestkms store protect); no key, no secret",
}

// secretNames are the fields of a response that carry a secret.
var secretNames = []string{"Plaintext", "PrivateKeyPlaintext", "SharedSecret", "CiphertextForRecipient"}

// secretFieldNames names the secret fields a response type has.
func secretFieldNames(t reflect.Type) []string {
	var out []string
	for _, name := range secretNames {
		if _, ok := t.FieldByName(name); ok {
			out = append(out, name)
		}
	}
	return out
}

// secretFields names the fields of a response that carry a secret and are
// set: what no answer on a bound key without a Recipient may hold.
func secretFields(resp any) []string {
	v := reflect.ValueOf(resp)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for _, name := range secretNames {
		if f := v.FieldByName(name); f.IsValid() && f.Len() > 0 {
			out = append(out, name)
		}
	}
	return out
}

func TestGateEveryOperation(t *testing.T) {
	e := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	rows := gateRows()

	// Every exported method is either walked below or takes no key.
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.method] = true
	}
	st := reflect.TypeOf(s)
	for i := 0; i < st.NumMethod(); i++ {
		name := st.Method(i).Name
		_, noKey := gateNoKey[name]
		if covered[name] == noKey {
			t.Errorf("Service.%s: walked %v, listed as keyless %v; a new operation must be walked through the gate here, or listed in gateNoKey with why it touches no key", name, covered[name], noKey)
		}
	}
	for name := range covered {
		if _, ok := st.MethodByName(name); !ok {
			t.Errorf("row for Service.%s, which does not exist", name)
		}
	}
	at := reflect.TypeOf(s.Admin())
	for i := 0; i < at.NumMethod(); i++ {
		if name := at.Method(i).Name; gateAdmin[name] == "" {
			t.Errorf("Admin.%s is not listed in gateAdmin: say why it touches no key, or make it an operation of Service", name)
		}
	}
	for name := range gateAdmin {
		if _, ok := at.MethodByName(name); !ok {
			t.Errorf("gateAdmin lists Admin.%s, which does not exist", name)
		}
	}

	// The gated rows cover every secret action, and no other.
	var gatedActions []string
	for _, r := range rows {
		if r.gated && !slices.Contains(gatedActions, r.action) {
			gatedActions = append(gatedActions, r.action)
		}
		if !r.gated && policy.ReleasesSecret(r.action) {
			t.Errorf("%s %s: action %s releases a secret but the row expects no gate", r.method, r.variant, r.action)
		}
	}
	sort.Strings(gatedActions)
	if want := slices.Sorted(slices.Values(policy.SecretActions)); !slices.Equal(gatedActions, want) {
		t.Errorf("gated rows exercise %v; policy.SecretActions is %v", gatedActions, want)
	}

	for _, r := range rows {
		name := strings.TrimSpace(r.method + " " + r.variant)
		t.Run(name, func(t *testing.T) {
			g := newGateEnv(t, s, e)
			calls := v.calls
			resp, err := r.call(g)
			if !r.gated {
				if err != nil {
					t.Fatalf("refused on a bound key whose policy allows it: %v", err)
				}
				if f := secretFields(resp); len(f) > 0 {
					t.Fatalf("answered %v on a bound key without a Recipient", f)
				}
				return
			}
			if !errors.Is(err, ErrAccessDenied) {
				t.Fatalf("err = %v; want ErrAccessDenied from the attestation gate", err)
			}
			for _, want := range []string{"is attestation-bound", "Recipient", r.action} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not say %q: %v", want, err)
				}
			}
			if !reflectNil(resp) {
				t.Errorf("refused, yet answered %+v", resp)
			}
			if v.calls != calls {
				t.Errorf("the verifier was called %d times for a request without a Recipient", v.calls-calls)
			}
			if r.attested == nil {
				return
			}
			// The same request from the attested enclave: allowed, and the
			// secret goes to the enclave only.
			resp, err = r.attested(g)
			if err != nil {
				t.Fatalf("with a verified Recipient: %v", err)
			}
			if f := secretFields(resp); !slices.Equal(f, []string{"CiphertextForRecipient"}) {
				t.Fatalf("with a Recipient the answer carries %v; want CiphertextForRecipient only", f)
			}
		})
	}
}

// TestGateJudgePolicy: policy test, the server's own judge, applies the gate
// too: the bound policy that allows kms:* allows no secret action without
// claims, and the rest.
func TestGateJudgePolicy(t *testing.T) {
	acct := Account{AccountID: "111122223333"}
	doc := gateBoundPolicy(acct)
	q := func(action string) *PolicyQuestion {
		return &PolicyQuestion{Action: action, Principal: principalARN(acct, adminName), KeyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
	}
	for _, a := range policy.SecretActions {
		ans, err := JudgePolicy(doc, q(a))
		if err != nil {
			t.Fatal(err)
		}
		if ans.Allowed || len(ans.Reasons) == 0 || !strings.Contains(ans.Reasons[0], "attestation-bound") {
			t.Errorf("%s without claims: %+v; want refused by the gate", a, ans)
		}
	}
	for _, a := range []string{"kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptTo", "kms:DescribeKey", "kms:PutKeyPolicy"} {
		if ans, err := JudgePolicy(doc, q(a)); err != nil || !ans.Allowed {
			t.Errorf("%s: %+v, %v; want allowed", a, ans, err)
		}
	}
}

// TestGateSafetyCheckAtCreation: CreateKey and PutKeyPolicy refuse the
// bound kms:* policy unless bypassed, and a bypass is recorded on the call.
func TestGateSafetyCheckAtCreation(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	pol := gateBoundPolicy(s.Account())
	_, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
	wantKind(t, err, ErrMalformedPolicy)
	if !strings.Contains(err.Error(), `statement 0 (Sid "everything")`) || !strings.Contains(err.Error(), `"kms:*"`) {
		t.Errorf("the refusal does not name the statement and its wildcard: %v", err)
	}
	md := mustKey(t, s, "", "")
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: pol})), ErrMalformedPolicy)
	if got, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID}); err != nil || got.Policy != defaultPolicy(s.Account()) {
		t.Fatalf("a refused PutKeyPolicy changed the policy to %s", got)
	}
	if r := lastRecord(t, s, "PutKeyPolicy"); r.BypassedChecks != nil {
		t.Fatalf("refused checks recorded as bypassed: %+v", r)
	}
	c = s.testCall()
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: pol, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, s, "PutKeyPolicy"); !slices.Equal(r.BypassedChecks, []string{CheckAttestationSafety}) {
		t.Fatalf("BypassedChecks = %v; want [%s]", r.BypassedChecks, CheckAttestationSafety)
	}
}

// TestGateSafetyCheckAnyRegion: the key's ARN in a policy check is not the
// ARN of the request that puts the policy — a later request may come
// through another region, where an Allow naming the key there applies.
func TestGateSafetyCheckAnyRegion(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall() // eu-west-1
	md := mustKey(t, s, "", "")
	root := principalARN(s.Account(), adminName)
	for _, resource := range []string{
		`"Resource":"arn:aws:kms:us-east-1:` + s.Account().AccountID + `:key/` + md.KeyID + `"`,
		`"NotResource":"arn:aws:kms:eu-west-1:` + s.Account().AccountID + `:key/` + md.KeyID + `"`,
	} {
		pol := `{"Version":"2012-10-17","Statement":[
		  {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":["kms:PutKeyPolicy","kms:GetKeyPolicy","kms:Encrypt"],"Resource":"*"},
		  {"Sid":"elsewhere","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:GenerateDataKey",` + resource + `},
		  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:Decrypt","Resource":"*",
		   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("ab", 48) + `"}}}]}`
		_, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: pol})
		wantKind(t, err, ErrMalformedPolicy)
		if !strings.Contains(err.Error(), `statement 1 (Sid "elsewhere")`) {
			t.Errorf("%s: the refusal does not name the statement: %v", resource, err)
		}
	}
}

// TestGateUnsafePolicyVariants: the ways a policy author opens a bound key
// to callers without evidence, each refused by the safety check naming the
// statement; forced on, none of them gets the caller it opens the key to a
// secret through any gated operation. The safe variants are accepted.
func TestGateUnsafePolicyVariants(t *testing.T) {
	e := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	acct := s.Account().AccountID
	root := principalARN(s.Account(), adminName)
	ci := "arn:aws:iam::" + acct + ":user/ci"
	image := strings.Repeat("ab", 48)
	enclaveStmt := `{"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:Decrypt","Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + image + `"}}}`
	manage := `{"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":["kms:PutKeyPolicy","kms:GetKeyPolicy","kms:Encrypt","kms:DescribeKey"],"Resource":"*"}`
	doc := func(stmts ...string) string {
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(append([]string{manage, enclaveStmt}, stmts...), ",") + `]}`
	}
	allow := func(principal, action, condition string) string {
		s := `{"Sid":"open","Effect":"Allow","Principal":` + principal + `,` + action + `,"Resource":"*"`
		if condition != "" {
			s += `,"Condition":` + condition
		}
		return s + `}`
	}
	rootP := `{"AWS":"` + root + `"}`
	cases := []struct {
		name, policy string
		caller       string // who the open statement lets in
		safe         bool
	}{
		{"upper-case action", doc(allow(rootP, `"Action":"KMS:DECRYPT"`, "")), root, false},
		{"action wildcard kms:De*", doc(allow(rootP, `"Action":"kms:De*"`, "")), root, false},
		{"action wildcard kms:*Key*", doc(allow(rootP, `"Action":"kms:*Key*"`, "")), root, false},
		{"action wildcard kms:GenerateDataKey*", doc(allow(rootP, `"Action":"kms:GenerateDataKey*"`, "")), root, false},
		{"action wildcard kms:?e*", doc(allow(rootP, `"Action":"kms:?e*"`, "")), root, false},
		{"NotAction", doc(allow(rootP, `"NotAction":"kms:Encrypt"`, "")), root, false},
		{"principal *", doc(allow(`"*"`, `"Action":"kms:DeriveSharedSecret"`, "")), ci, false},
		{"principal {AWS:*}", doc(allow(`{"AWS":"*"}`, `"Action":"kms:ReEncryptFrom"`, "")), ci, false},
		{"an IAM user", doc(allow(`{"AWS":"`+ci+`"}`, `"Action":["kms:Decrypt","kms:GenerateDataKeyPair"]`, "")), ci, false},
		{"the account id", doc(allow(`{"AWS":"`+acct+`"}`, `"Action":"kms:GenerateDataKey"`, "")), ci, false},
		{"NotPrincipal", doc(`{"Sid":"open","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::` + acct + `:user/nobody"},"Action":"kms:Decrypt","Resource":"*"}`), ci, false},
		{"condition on the encryption context only", doc(allow(rootP, `"Action":"kms:Decrypt"`, `{"StringEquals":{"kms:EncryptionContext:app":"x"}}`)), root, false},
		{"condition on the caller account only", doc(allow(rootP, `"Action":"kms:Decrypt"`, `{"StringEquals":{"kms:CallerAccount":"`+acct+`"}}`)), root, false},
		{"StringNotEqualsIfExists", doc(allow(rootP, `"Action":"kms:Decrypt"`, `{"StringNotEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"00"}}`)), root, false},
		{"ForAllValues:StringLike", doc(allow(rootP, `"Action":"kms:Decrypt"`, `{"ForAllValues:StringLike":{"kms:RecipientAttestation:Format":"nitro"}}`)), root, false},
		{"a Deny that does not apply without evidence", doc(allow(rootP, `"Action":"kms:*"`, ""),
			`{"Sid":"deny","Effect":"Deny","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey*","kms:DeriveSharedSecret","kms:ReEncrypt*"],"Resource":"*","Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"00"}}}`), root, false},
		{"a Deny of some secret actions only", doc(allow(rootP, `"Action":"kms:*"`, ""),
			`{"Sid":"deny","Effect":"Deny","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"`+image+`"}}}`), root, false},
		// Safe: the Deny surely applies to every caller without evidence.
		{"kms:* under a Deny of every secret action without the image", doc(allow(rootP, `"Action":"kms:*"`, ""),
			`{"Sid":"deny","Effect":"Deny","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey*","kms:DeriveSharedSecret","kms:ReEncrypt*"],"Resource":"*","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"`+image+`"}}}`), root, true},
		{"an Allow that also requires the format", doc(allow(rootP, `"Action":"kms:GenerateDataKey*"`, `{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},"StringEqualsIfExists":{"kms:RecipientAttestation:PCR0":"`+image+`"}}`)), root, true},
	}
	gated := []gateRow{}
	for _, r := range gateRows() {
		if r.gated {
			gated = append(gated, r)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateEnv(t, s, e)
			_, err := s.PutKeyPolicy(bg, g.c, &PutKeyPolicyRequest{KeyID: g.sym, Policy: tc.policy})
			if tc.safe {
				if err != nil {
					t.Fatalf("a safe policy refused: %v", err)
				}
			} else {
				wantKind(t, err, ErrMalformedPolicy)
				if !strings.Contains(err.Error(), `(Sid "open")`) && !strings.Contains(err.Error(), `statement 2`) {
					t.Errorf("the refusal does not name the open statement: %v", err)
				}
			}
			for _, id := range []string{g.sym, g.ka} {
				if _, err := s.PutKeyPolicy(bg, g.c, &PutKeyPolicyRequest{KeyID: id, Policy: tc.policy, BypassPolicyLockoutSafetyCheck: true}); err != nil {
					t.Fatal(err)
				}
			}
			g.c = &Call{RequestID: "attacker", Principal: &Principal{ARN: tc.caller}}
			for _, r := range gated {
				resp, err := r.call(g)
				if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "attestation-bound") || !reflectNil(resp) {
					t.Errorf("%s %s by %s: %v; want the attestation gate", r.method, r.variant, tc.caller, err)
				}
			}
		})
	}
}

// Package policy parses AWS-style JSON key policies and judges requests by
// them, as AWS KMS does with a key policy, plus attestkms's attestation
// condition keys. It reads a document ([Parse]) and answers one question
// ([Policy.Evaluate]): does this policy allow, explicitly deny, or not allow
// (implicitly deny) this principal this action on this key, given these
// condition values? It never sees evidence: the caller verifies attestation
// evidence first (package attest) and passes the verified measurements in
// [Request.Context] under kms:RecipientAttestation:<name>.
//
// # What a policy can say
//
// Version ("2012-10-17" or "2008-10-17"), Id, and one to 100 statements, each
// with Sid, Effect ("Allow" or "Deny"), Principal or NotPrincipal, Action or
// NotAction, optionally Resource or NotResource (absent means "*": a key
// policy's resource is the key itself), and optionally Condition with the
// operators StringEquals, StringNotEquals, StringEqualsIgnoreCase,
// StringNotEqualsIgnoreCase, StringLike, StringNotLike, Bool, Null,
// IpAddress, NotIpAddress, DateEquals, DateNotEquals, DateLessThan(Equals),
// DateGreaterThan(Equals), NumericEquals, NumericNotEquals,
// NumericLessThan(Equals), NumericGreaterThan(Equals), ArnEquals, ArnLike,
// ArnNotEquals and ArnNotLike, the IfExists suffix (not on Null) and the
// ForAnyValue: and ForAllValues: prefixes (not on Null). Actions and
// resources take the wildcards * and ?, as do StringLike values and each
// part of an Arn operator's ARN.
//
// # The condition keys are a closed set
//
// A condition key that the server never puts in a request's context is
// absent from every request, so a condition on it decides silently: a Deny on
// aws:SourceVpc would never apply, an Allow on a misspelt measurement would
// never hold and, worse, would escape every check that looks for attestation
// conditions. Parse therefore refuses any key but these (keys.go), named in
// any ASCII case:
//
//	aws:SecureTransport        boolean    true only over TLS             Bool
//	aws:SourceIp               IP         the direct peer                IpAddress, NotIpAddress
//	aws:CurrentTime            date       the server's clock             Date*
//	aws:EpochTime              seconds    the server's clock             Date*, Numeric*
//	aws:PrincipalArn           ARN        the authenticated caller       String*, Arn*
//	aws:RequestedRegion        string     the server's one region        String*
//	kms:CallerAccount          string     the store's account            String*
//	kms:EncryptionContext:<k>  string     the request's context          String*
//	kms:EncryptionContextKeys  strings    its keys                       String*
//	kms:KeySpec, kms:KeyUsage, kms:KeyOrigin   the key's                 String*
//	kms:RequestAlias           string     the alias the request named    String*
//	kms:ResourceAliases        strings    every alias of the key         String*
//	kms:RecipientAttestation:… string     verified evidence (below)      String*
//
// Null applies to every key. An operator on a key of another type is refused
// ("IpAddress cannot be used with kms:CallerAccount"), and so is a value the
// operator cannot read (a CIDR block with host bits set, a date without a
// zone, a number in hex). A request value of the wrong type (the server never
// sends one) makes the request ExplicitDeny.
//
// Measurements (attest.IsConditionKey): kms:RecipientAttestation:Format
// (every format); kms:RecipientAttestation:ImageSha384 and :PCR0..:PCR31
// (AWS Nitro, AWS's names); kms:RecipientAttestation/PCR0../PCR31 (Huawei
// Qingtian, Huawei's names, with a slash); :SnpMeasurement and :SnpHostData
// (SEV-SNP); :TpmPCR0..:TpmPCR23 (TPM 2.0); :NitroTPMPCR0..:NitroTPMPCR23
// (AWS NitroTPM documents, AWS KMS's names). Each vendor's evidence gives only
// its own keys, so one vendor's document never satisfies a condition written
// for another's.
//
// A decision is AWS's: a statement applies when its principal, action,
// resource and every condition match; any applicable Deny gives
// [ExplicitDeny]; otherwise any applicable Allow gives [Allow]; otherwise
// [Deny]. Within a Condition, operators are ANDed, keys within an operator are
// ANDed, and the values listed for one key are ORed (the negated operators
// hold when the request value matches none of them).
//
// # Where attestkms differs from AWS IAM, on purpose
//
//   - A principal that names an account, "111122223333" or
//     "arn:aws:iam::111122223333:root", matches every credential of that
//     account; as in AWS it delegates to the account's identity policies
//     ([IdentityPolicy]): [Policy.EvaluateGrant] says whether an Allow was
//     granted to the caller itself (its ARN, "*", a NotPrincipal that does
//     not name it; the root by its account) or only to its account, and
//     package kms then also asks the caller's identity policy, if it has
//     one. A credential without one is simply in, as every credential was
//     before identity policies. Other principals match by exact ARN.
//     Principal types other than AWS (Service, Federated, CanonicalUser) are
//     valid but never match, as no attestkms caller is one of them.
//   - There are no IAM users, roles or groups: an identity policy is one
//     document carried by one credential, parsed by [ParseIdentity] with
//     the key policy's grammar less the principal (and, as in IAM, with
//     Resource required); it has no safety checks of its own, since it can
//     only narrow what a key policy allows.
//   - Whatever is not understood is an error, never ignored: an unknown
//     element, principal type, condition operator (Binary* is not
//     supported) or condition key (see below), a policy variable
//     (${...}), a wildcard in a principal ARN, a duplicate JSON key, an empty
//     list or operator body. Ignoring a Condition would widen access, and a
//     document read one way by a reviewer and another way here (two "Effect"
//     keys, of which Go's encoding/json keeps the last) is an attack.
//   - Sids must be unique, and documents are bounded (see Bounds).
//   - Condition key names compare with ASCII case folding. A request whose
//     Context holds two spellings of a key a policy consults (kms:Foo and
//     kms:foo) cannot be judged and gets [ExplicitDeny]; so does a request
//     whose principal, account, action or resource is malformed, and a nil
//     request or policy.
//   - A context key whose value list is empty is treated as absent.
//   - Condition operators are spelt exactly as AWS spells them; Bool and Null
//     take true and false (JSON literals, or the strings "true" and
//     "false"); under the String operators a number stands for its text as
//     written (5.0 is not 5); IpAddress takes addresses and canonical CIDR
//     blocks, Date* RFC 3339 times, days and seconds since 1970, Numeric*
//     decimals.
//   - The lockout check ([Policy.AllowsPolicyUpdate]) counts only Allow
//     statements without conditions, and any Deny that could apply.
//
// # Attestation measurements compare without regard to case
//
// The measurements carry hex or a format name, so their values compare
// case-insensitively under every string operator, StringEquals and
// StringLike included: a policy that writes a PCR in upper-case hex matches
// the lower-case hex that attest.Claims.Measurements produces. The rule is
// one function, valuesIgnoreCase in condition.go. Other values are
// case-sensitive except under the IgnoreCase operators;
// kms:EncryptionContext:<key> values, for one, are case-sensitive while the
// <key> in the name is not.
//
// # A condition on an absent key, and how to require attestation
//
// As in AWS, a condition on a key the request does not carry is false, so its
// statement does not apply, with these exceptions: ...IfExists is true,
// Null:true is true, ForAllValues: is true (AWS's quirk: the empty set is a
// subset of everything), and a negated operator without a set prefix
// (StringNotEquals, StringNotLike, NotIpAddress, DateNotEquals, ...) is true;
// ForAnyValue: stays false, negated or not. A request without attestation
// carries no kms:RecipientAttestation: key at all.
// Hence:
//
//   - Allow + StringEquals on a measurement: applies only to attested
//     requests with that measurement. This is how to require attestation.
//   - Deny + StringEquals on a measurement (deny the known-bad image): does
//     NOT apply to a request without attestation, which is then judged by the
//     other statements and may well be allowed. A Deny on a positive
//     condition never requires anything.
//   - Deny + StringNotEquals on a measurement (deny all but the good image):
//     does apply to a request without attestation, and so does require it.
//   - Allow + StringNotEquals on a measurement (allow all but the bad image):
//     also applies to a request without attestation. Do not write it: on an
//     action that releases a secret the safety check refuses it.
//
// # Identity policies
//
// A credential may carry an identity policy: the same statements without
// Principal (ParseIdentity), judged for that credential only. It never
// widens a key policy: kms consults it only where the key policy's Allow
// names the caller's account rather than the caller, and then both must
// allow; an explicit Deny in either wins. To limit a credential to one
// alias, condition its Allow on kms:ResourceAliases (every alias of the
// key, multivalued: use ForAnyValue:), which holds however the request names
// the key (a Decrypt names none).
//
// # Multivalued keys
//
// Without a set prefix, a positive operator holds when some request value
// matches some policy value, and a negated one when no request value does.
// ForAnyValue: holds when some request value satisfies the operator,
// ForAllValues: when every one does. Use the set prefixes for keys that carry
// several values (kms:EncryptionContextKeys, kms:ResourceAliases), as AWS
// advises.
//
// # Bounds
//
// The policy author may be an attacker holding kms:PutKeyPolicy on one key,
// and the caller controls the context values. Parse refuses documents over
// 32 KiB, with more than 100 statements, nested deeper than a valid policy
// nests, or with lists of more than 500 entries. Wildcard matching costs up to
// len(pattern) x len(value), so Evaluate counts its steps and answers
// ExplicitDeny past a few milliseconds of work (maxSteps), which no sensible
// policy comes near; the safety check is bounded the same way
// (analysisSteps) and refuses what it cannot finish.
//
// # Attestation-bound policies and the safety check
//
// A policy that names any measurement key is attestation-bound
// (AttestationBound): its key's owner expects attested callers. Package kms
// then never releases a plaintext secret of the key, or one protected by it
// (SecretActions: Decrypt, GenerateDataKey, GenerateDataKeyPair,
// DeriveSharedSecret, ReEncryptFrom), to a request without a verified
// Recipient, whatever the policy says; and CreateKey and PutKeyPolicy refuse
// an attestation-bound policy on which some principal could be allowed one of
// those actions without evidence, or with genuine evidence of a workload the
// policy does not name (CheckAttestationSafety, safety.go): an Allow without
// a condition on a measurement of the workload's image (measurement.go:
// ImageSha384, PCR0, PCR2, PCR8, SnpMeasurement, TdxMrTd, TPM PCR4, never
// all zeros; not Format, a vendor, nor Secure Boot's PCR7, nor what the host
// chooses or the workload extends itself) that is false when the request
// carries none, unless a Deny surely denies it. Lint adds the weaker smells
// for attestkms policy lint.
//
// # What is not checked here
//
// Whether a measurement is the right one, and whether evidence is genuine:
// that is the policy author's and package attest's business.
package policy

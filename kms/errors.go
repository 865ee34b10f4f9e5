package kms

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Error kinds. Every error an operation returns wraps exactly one of them
// (errors.Is), so that each dialect can turn it into its own wire error with one
// table. The messages of the kinds are short; the wrapping *Error carries the
// detail a client sees. No message ever contains key material, plaintext,
// a data key or a shared secret.
var (
	ErrNotFound          = errors.New("not found")
	ErrAlreadyExists     = errors.New("already exists")
	ErrDisabled          = errors.New("key disabled")
	ErrInvalidState      = errors.New("invalid key state")
	ErrInvalidKeyUsage   = errors.New("invalid key usage")
	ErrInvalidCiphertext = errors.New("invalid ciphertext")
	ErrIncorrectKey      = errors.New("incorrect key")
	ErrValidation        = errors.New("validation error")
	ErrUnsupported       = errors.New("unsupported operation")
	ErrInvalidPublicKey  = errors.New("invalid public key")
	ErrInvalidAliasName  = errors.New("invalid alias name")
	ErrInvalidArn        = errors.New("invalid arn")
	ErrInvalidMarker     = errors.New("invalid marker")
	ErrMalformedPolicy   = errors.New("malformed policy document")
	ErrTag               = errors.New("invalid tag")
	ErrLimitExceeded     = errors.New("limit exceeded")
	ErrAccessDenied      = errors.New("access denied")
	ErrDryRun            = errors.New("dry run succeeded")
	ErrInvalidRecipient  = errors.New("invalid recipient")
	ErrInternal          = errors.New("internal error")
	// ErrThrottled: the server declined the work for now, to keep within
	// its budget (a Recipient whose evidence carries a certificate chain not
	// verified before, when the node's budget for those is spent). Nothing
	// was judged or changed; the same request may succeed later.
	ErrThrottled = errors.New("throttled")
	// ErrCanceled: the request's context was done before the operation
	// completed. It stopped before its next step — before it started,
	// before verifying a Recipient's evidence, before a store transaction —
	// so nothing it had not yet committed is committed.
	ErrCanceled           = errors.New("request canceled")
	ErrNotInitialised     = errors.New("data directory is not initialised")
	ErrAlreadyInitialised = errors.New("store already initialised")
	ErrCredentialNotFound = errors.New("credential not found")
	ErrRootKeyMismatch    = errors.New("root key does not open this store")
	ErrRegionMismatch     = errors.New("store is for another region") // *RegionMismatchError says which
	ErrStoreInUse         = errors.New("store is in use by another process")
	// ErrStoreMismatch: a node's data directory belongs to another store
	// (node.go).
	ErrStoreMismatch = errors.New("data directory belongs to another store")
	// ErrStoreMissing: a data directory holds what a store leaves beside
	// its database (its root key, audit log or admin credential file) but
	// not the database: lost, or never restored. Neither Init nor Open
	// makes a new store there (a new account would orphan every key).
	ErrStoreMissing = errors.New("the store's database is missing")
	// ErrStoreDamaged: the store's database fails its integrity checks (a
	// truncated file, a damaged page, a record that does not decode or
	// open). Nothing was written.
	ErrStoreDamaged = store.ErrDamaged
	// ErrUnprotected: the store's records are not authenticated (a store
	// made by an attestkms from before records were), or not digested (one
	// made before the records digest), and Open was not told to protect
	// them (Options.ProtectRecords; attestkms store protect). Nothing was
	// written.
	ErrUnprotected = errors.New("the store's records are not protected")
)

// Kinds lists every kind a kms operation can return to a client, for the
// dialects' tests that walk each kind through their error tables.
var Kinds = []error{
	ErrNotFound, ErrAlreadyExists, ErrDisabled, ErrInvalidState, ErrInvalidKeyUsage,
	ErrInvalidCiphertext, ErrIncorrectKey, ErrValidation, ErrUnsupported,
	ErrInvalidPublicKey, ErrInvalidAliasName, ErrInvalidArn, ErrInvalidMarker,
	ErrMalformedPolicy, ErrTag, ErrLimitExceeded, ErrAccessDenied, ErrDryRun,
	ErrInvalidRecipient, ErrInternal, ErrCanceled, ErrThrottled,
}

// Error is an operation's failure: one kind and the message a client may see.
// Cause, if set, is an underlying error for the server's own log and is not
// part of Error(); it must not be shown to clients.
type Error struct {
	Kind  error
	Msg   string
	Cause error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is see both the kind and, for the log, the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// errorf is an Error of kind with a formatted message. Messages repeat what
// the client sent (an alias, a spec, a key id), and a client must not make
// an error message — or the audit record that keeps it — as large as its
// request: a string argument of a %q verb is cut at maxEcho bytes, and any
// other string argument (the server's own explanations, which may quote a
// policy's Sid) at maxExplain. A string is any argument of a string kind,
// named types too (DataKeyPairSpec: review finding, a 30 KB KeyPairSpec
// was repeated whole because only a plain string was cut), and the text of
// an error or Stringer argument. What is left is cut again, whole, where a
// client or the audit log gets it (Message, ClipMessage).
func errorf(kind error, format string, args ...any) error {
	verbs := verbsOf(format)
	for i, a := range args {
		limit := maxExplain
		if i < len(verbs) && verbs[i] == 'q' {
			limit = maxEcho
		}
		if s, ok := textOf(a); ok && len(s) > limit {
			args[i] = strings.ToValidUTF8(s[:limit], "") + "…"
		}
	}
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// textOf is the text fmt prints for a, if a is text: a string of any
// string type, an error or a Stringer. An Error or String method that
// panics (a nil pointer's) is left to fmt, which prints the panic instead
// of raising it (ok false: the argument is not cut).
func textOf(a any) (text string, ok bool) {
	defer func() {
		if recover() != nil {
			text, ok = "", false
		}
	}()
	switch v := a.(type) {
	case string:
		return v, true
	case error:
		return v.Error(), true
	case fmt.Stringer:
		return v.String(), true
	}
	if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

// MaxMessage bounds an error message as a client is answered it and as its
// audit record keeps it, in bytes: every message, whatever built it, is cut
// there (ClipMessage) by Message, by the audit record (Service.record) and
// by each dialect's table (api/internal/pipeline's Table.Wire), so that no
// message that repeats a client's input, today's or one added later, makes
// an answer or an audit line as large as the request (review finding: 30 KB
// a request, 26 MB/s of audit from one credential). The server's longest
// explanations (the attestation gate's, with two ARNs) take about 700.
const MaxMessage = 1024

// clipMark ends a message ClipMessage cut.
const clipMark = "… [message cut]"

// ClipMessage is msg cut to at most MaxMessage bytes, on a UTF-8 character
// boundary, ending with a mark that says it was cut; msg itself if it fits.
func ClipMessage(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	n := MaxMessage - len(clipMark)
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + clipMark
}

// The bytes of a client's string an error message repeats.
const (
	maxEcho    = 256
	maxExplain = 4096
)

// verbsOf lists format's verbs, one per argument ("%%" takes none; errorf's
// formats use no '*' widths or explicit argument indexes).
func verbsOf(format string) []byte {
	var verbs []byte
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.", format[j]) >= 0 {
			j++
		}
		if j < len(format) && format[j] != '%' {
			verbs = append(verbs, format[j])
		}
		i = j
	}
	return verbs
}

// internal wraps an unexpected failure: the client sees a generic message,
// the cause stays for the log.
func internal(cause error) error {
	if errors.Is(cause, sealer.ErrUnavailable) {
		return &Error{Kind: ErrInternal, Msg: "The root key is unavailable (its device does not answer); try again later.", Cause: cause}
	}
	var ie *store.IntegrityError
	if errors.As(cause, &ie) {
		// It names the record (type and id: no secret) for the operator.
		return &Error{Kind: ErrInternal, Msg: ie.Error(), Cause: cause}
	}
	return &Error{Kind: ErrInternal, Msg: "internal error", Cause: cause}
}

// Kind returns the kind of err among Kinds, or ErrInternal.
func Kind(err error) error {
	for _, k := range Kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrInternal
}

// Message returns the text a client may see for err: its own message when it is
// a kms *Error of a known kind, a generic one otherwise; at most MaxMessage
// bytes.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && errors.Is(e.Cause, store.ErrIntegrity) {
		// Which record, and why, is the operator's: the server's log and
		// the audit record name it (Service.record); a client learns only
		// that the store it depends on was changed.
		return IntegrityMessage
	}
	if errors.As(err, &e) && (e.Kind != ErrInternal || errors.Is(e.Cause, sealer.ErrUnavailable)) {
		// An unavailable root key says so: the caller can retry.
		return ClipMessage(e.Msg)
	}
	return "internal error"
}

// IntegrityMessage is what a client is told of a record that fails its
// integrity check (package store, mac.go).
const IntegrityMessage = "A record this request needs fails its integrity check: the store was changed outside attestkms, and the record is not used. The server's log names it."

// errNoChange aborts a store update that found nothing to do.
var errNoChange = errors.New("no change")

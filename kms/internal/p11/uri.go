package p11

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// URI is a parsed RFC 7512 pkcs11: URI naming the root key: which module to
// load (module-path), which token (token label, serial, manufacturer,
// model, or slot-id) and which object on it (object: the key's label, or
// id). It never holds a PIN.
type URI struct {
	Token        string // token label (CK_TOKEN_INFO.label)
	Manufacturer string // token manufacturer (CK_TOKEN_INFO.manufacturerID)
	Model        string // token model
	Serial       string // token serial number
	SlotID       *uint  // slot-id: the slot, whatever token is in it
	Object       string // the key's label (CKA_LABEL)
	ID           []byte // the key's id (CKA_ID)
	ModulePath   string // the PKCS#11 module to load (module-path), absolute
}

// maxURI bounds what ParseURI reads: a real one is a few hundred bytes.
const maxURI = 4096

// ParseURI parses a pkcs11: URI (RFC 7512) naming a root key. It requires
// module-path (a query attribute, an absolute path), a token (token, serial
// or slot-id) and the key (object or id). It refuses pin-value: a PIN in a
// URI ends up in ps output, shell history and logs; the PIN comes from a
// file or the environment (--pkcs11-pin-file, ATTESTKMS_PKCS11_PIN)
// instead. Attributes it does not know, or knows but does not implement
// (library-*, slot-description, pin-source, module-name ...), are refused
// rather than ignored: an ignored attribute would select another key than
// the one the URI names.
func ParseURI(s string) (*URI, error) {
	if len(s) > maxURI {
		return nil, fmt.Errorf("pkcs11 uri: longer than %d bytes", maxURI)
	}
	const scheme = "pkcs11:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return nil, errors.New(`pkcs11 uri: does not start with "pkcs11:"`)
	}
	rest := s[len(scheme):]
	if strings.ContainsRune(rest, '#') {
		return nil, errors.New("pkcs11 uri: a fragment (#) is not allowed")
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			if err := u.setPath(attr, seen); err != nil {
				return nil, err
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			if err := u.setQuery(attr, seen); err != nil {
				return nil, err
			}
		}
	}
	if u.ModulePath == "" {
		return nil, errors.New("pkcs11 uri: module-path is required (e.g. ?module-path=/usr/lib/softhsm/libsofthsm2.so)")
	}
	if u.Token == "" && u.Serial == "" && u.SlotID == nil {
		return nil, errors.New("pkcs11 uri: token, serial or slot-id is required")
	}
	if u.Object == "" && u.ID == nil {
		return nil, errors.New("pkcs11 uri: object (the key's label) or id is required")
	}
	return u, nil
}

func splitAttr(attr, part string) (name, raw string, err error) {
	name, raw, ok := strings.Cut(attr, "=")
	if !ok || name == "" {
		return "", "", fmt.Errorf("pkcs11 uri: %s attribute %q is not name=value", part, trunc(attr))
	}
	return name, raw, nil
}

func (u *URI) setPath(attr string, seen map[string]bool) error {
	name, raw, err := splitAttr(attr, "path")
	if err != nil {
		return err
	}
	if seen[name] {
		return fmt.Errorf("pkcs11 uri: %s given twice", trunc(name))
	}
	seen[name] = true
	v, err := unescape(raw)
	if err != nil {
		return fmt.Errorf("pkcs11 uri: %s: %w", name, err)
	}
	if v == "" {
		return fmt.Errorf("pkcs11 uri: %s is empty", name)
	}
	if name != "id" && strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("pkcs11 uri: %s holds a NUL byte", name)
	}
	switch name {
	case "token":
		u.Token = v
	case "manufacturer":
		u.Manufacturer = v
	case "model":
		u.Model = v
	case "serial":
		u.Serial = v
	case "object":
		u.Object = v
	case "id":
		u.ID = []byte(v)
	case "slot-id":
		// CK_SLOT_ID is a CK_ULONG: decimal digits only, no sign.
		if strings.TrimLeft(v, "0123456789") != "" {
			return fmt.Errorf("pkcs11 uri: slot-id %q is not a decimal number", trunc(v))
		}
		n, err := strconv.ParseUint(v, 10, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("pkcs11 uri: slot-id %q is out of range", trunc(v))
		}
		id := uint(n)
		u.SlotID = &id
	case "type":
		if v != "secret-key" {
			return fmt.Errorf("pkcs11 uri: type %q: the root key is a secret-key", trunc(v))
		}
	case "pin-value", "pin-source":
		return errPINInURI
	case "library-manufacturer", "library-description", "library-version", "slot-manufacturer", "slot-description":
		return fmt.Errorf("pkcs11 uri: %s is not supported (select the token by token, serial, manufacturer, model or slot-id)", name)
	default:
		return fmt.Errorf("pkcs11 uri: unknown path attribute %q", trunc(name))
	}
	return nil
}

var errPINInURI = errors.New("pkcs11 uri: a PIN in the URI (pin-value, pin-source) is refused: a URI ends up in ps output, shell history and logs; give the PIN in a file (--pkcs11-pin-file) or ATTESTKMS_PKCS11_PIN")

func (u *URI) setQuery(attr string, seen map[string]bool) error {
	name, raw, err := splitAttr(attr, "query")
	if err != nil {
		return err
	}
	if seen[name] {
		return fmt.Errorf("pkcs11 uri: %s given twice", trunc(name))
	}
	seen[name] = true
	switch name {
	case "pin-value", "pin-source":
		return errPINInURI
	case "module-path":
		v, err := unescape(raw)
		if err != nil {
			return fmt.Errorf("pkcs11 uri: module-path: %w", err)
		}
		if !strings.HasPrefix(v, "/") || strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("pkcs11 uri: module-path %q is not an absolute path", trunc(v))
		}
		u.ModulePath = v
	case "module-name":
		return errors.New("pkcs11 uri: module-name is not supported: give module-path, the module's absolute path")
	default:
		return fmt.Errorf("pkcs11 uri: unknown query attribute %q", trunc(name))
	}
	return nil
}

// unescape percent-decodes an attribute value (RFC 7512 section 2.3).
// Bytes that must be encoded (controls, space, non-ASCII, the URI's own
// delimiters) are refused when they appear raw.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", errors.New("truncated percent-encoding")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errors.New("bad percent-encoding")
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' || c == '#' || c == '?' || c == ';':
			return "", fmt.Errorf("byte %q must be percent-encoded", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// keepPath and keepQuery are the characters String leaves raw in a path
// and a query attribute value: RFC 7512's pk11-res-avail, with '&' in a
// path and '/' in both. They are exactly what unescape accepts raw,
// less the part's own delimiters, so a printed URI is never longer than
// the one parsed (maxURI holds for it too) and parses back the same.
const (
	keepPath  = ":[]@!$'()*+,=&/"
	keepQuery = ":[]@!$'()*+,=/"
)

// escape percent-encodes v for a URI attribute value: everything but
// unreserved characters and those in keep.
func escape(v string, keep string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// String returns the URI in RFC 7512 form (never a PIN: a URI holds none).
func (u *URI) String() string {
	var path []string
	add := func(name, v string) {
		if v != "" {
			path = append(path, name+"="+escape(v, keepPath))
		}
	}
	add("token", u.Token)
	add("manufacturer", u.Manufacturer)
	add("model", u.Model)
	add("serial", u.Serial)
	if u.SlotID != nil {
		path = append(path, "slot-id="+strconv.FormatUint(uint64(*u.SlotID), 10))
	}
	add("object", u.Object)
	if u.ID != nil {
		add("id", string(u.ID))
	}
	s := "pkcs11:" + strings.Join(path, ";")
	if u.ModulePath != "" {
		s += "?module-path=" + escape(u.ModulePath, keepQuery)
	}
	return s
}

// trunc shortens hostile input quoted back in an error.
func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

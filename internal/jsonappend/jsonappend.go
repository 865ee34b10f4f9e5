// Package jsonappend writes JSON members as encoding/json writes them,
// without reflection, for the records written on every request (the audit
// line, its attestation summary). A string that needs escaping goes through
// encoding/json itself, so the escaping is always its own; each user holds
// its encoder to json.Marshal with a differential test.
package jsonappend

import "encoding/json"

// Member appends ,"name":"v" (nothing for an empty v if omitEmpty).
func Member(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return String(b, v)
}

// String appends v as encoding/json writes it: as it is when every byte is
// printable ASCII that JSON and encoding/json's HTML escaping leave alone,
// else through encoding/json.
func String(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

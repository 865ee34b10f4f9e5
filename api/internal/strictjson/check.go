package strictjson

import (
	"errors"
	"fmt"
	"reflect"
)

// CheckFastPath holds the fast path (fast.go) to encoding/json for body
// decoded into newValue(), a pointer to a zero request struct, with o: what
// the fast path handles, encoding/json accepts into a DeepEqual value; what
// it declines, it left zero; and Decode answers as encoding/json does (the
// same value, or an *Error equal to its). It reports whether the fast path
// handled body, and the first disagreement.
//
// For tests: each dialect calls it over its real request types
// (strictjsontest), so that a request type the fast path gets wrong cannot
// appear unnoticed.
func CheckFastPath(body []byte, newValue func() any, o Options) (fast bool, err error) {
	fv, slow, both := newValue(), newValue(), newValue()
	fast = decodeFast(body, fv, o)
	slowErr := decodeJSON(body, slow, o)
	if fast {
		if slowErr != nil {
			return fast, fmt.Errorf("%T: %q: the fast path accepts, encoding/json refuses: %v", fv, body, slowErr)
		}
		if !reflect.DeepEqual(fv, slow) {
			return fast, fmt.Errorf("%T: %q: the fast path gives %+v, encoding/json %+v", fv, body, fv, slow)
		}
	} else if !reflect.ValueOf(fv).Elem().IsZero() {
		return fast, fmt.Errorf("%T: %q: the fast path declined, but wrote %+v", fv, body, fv)
	}
	derr := Decode(body, both, o)
	if !sameError(derr, slowErr) || slowErr == nil && !reflect.DeepEqual(both, slow) {
		return fast, fmt.Errorf("%T: %q: Decode gives %v %+v, encoding/json %v %+v", fv, body, derr, both, slowErr, slow)
	}
	return fast, nil
}

// sameError reports whether a and b are both nil or equal *Errors.
func sameError(a, b error) bool {
	var ea, eb *Error
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return errors.As(a, &ea) && errors.As(b, &eb) && *ea == *eb
}

package sdkhmac_test

import "reflect"

// reflectValue wraps a query parameter as the SDK's request builder expects
// it from the generated clients: a reflect.Value.
func reflectValue(v any) reflect.Value { return reflect.ValueOf(v) }

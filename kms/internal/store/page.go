package store

import "fmt"

// pageMax is how many records Page fetches at a time: a pass over every
// key of a large store holds a page of them in memory, not the store.
const pageMax = 1000

// Page visits the records fetch gives from start on (Reader's Keys or
// Aliases: at most n records whose id is start or after, in byte order),
// in order, until limit of them were counted (visit's count; a negative
// limit: all), and returns the id of the record after the last one
// visited ("" when there is none): where the next page starts. It fetches
// limit+1 records at a time (at most pageMax), so that each fetch starts
// at a record's own id. A start made up past the last id visited (id +
// "\x00") would do in bbolt, but is not text PostgreSQL holds: there a
// store of more than a page of keys failed every pass. kms's listings and
// the records digest's pass (digestOf) both page with it.
func Page[T any](start string, limit int, fetch func(start string, n int) ([]*T, error), id func(*T) string, visit func(*T) (bool, error)) (string, error) {
	chunk := pageMax
	if limit >= 0 && limit < chunk {
		chunk = limit + 1
	}
	n := 0
	for {
		items, err := fetch(start, chunk)
		if err != nil {
			return "", err
		}
		more := len(items) == chunk
		if more {
			next := id(items[chunk-1])
			if next <= start && chunk > 1 {
				// Not in order: fetched again from there, the same
				// page would come back for ever.
				return "", fmt.Errorf("store: a listing from %q gave %q as its last record", start, next)
			}
			start, items = next, items[:chunk-1]
		}
		for _, it := range items {
			if n == limit {
				return id(it), nil
			}
			counted, err := visit(it)
			if err != nil {
				return "", err
			}
			if counted {
				n++
			}
		}
		if !more {
			return "", nil
		}
		if n == limit {
			return start, nil
		}
	}
}

package store

import (
	"context"
	"time"
)

// Compacter is implemented by a store whose files keep what a deleted or
// replaced record held until they are rewritten (bbolt leaves a record's
// old copies in freed pages, which it reuses but never overwrites). Compact
// rewrites the store so that its files hold the live records and nothing
// else: after it returns nil, no copy of a record deleted or replaced
// before it was called remains in them (crypto-shredding,
// docs/shredding.md). It is safe to call while the store serves: other
// calls wait for it (Took says how long). A crash at any instant leaves the
// store as it was before or after, complete. A store that cannot shred
// itself so (PostgreSQL: docs/shredding.md, an operator's VACUUM FULL)
// does not implement it.
type Compacter interface {
	Compact(ctx context.Context) (CompactStats, error)
}

// CompactStats is what a compaction did.
type CompactStats struct {
	Before, After int64         // the file's size, bytes
	Took          time.Duration // how long other calls waited for it
}

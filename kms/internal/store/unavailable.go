package store

import "errors"

// ErrUnavailable: the store's database server could not be reached, or the
// connection to it broke (PostgreSQL: down, restarting, unreachable,
// refusing connections). The request may succeed later, and the store
// reconnects by itself. Nothing was written, except that a commit whose
// connection broke may have committed (package doc, "A change and its audit
// record commit together"). An embedded store (bbolt) never returns it.
// kms answers it as a dependency failure the client may retry, and /readyz
// as not ready.
var ErrUnavailable = errors.New("store: the database is unavailable")

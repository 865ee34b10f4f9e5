-- Schema version 4: the meta's MAC (package store, mac.go), under a key
-- derived from the root key. Keys, aliases and credentials carry theirs in
-- their record's JSON ("mac"), as bbolt keeps them. NULL in a store
-- migrated from version 3: attestkms MACs every record, in one change, the
-- first time it opens the store for writing.

ALTER TABLE meta ADD COLUMN mac bytea;

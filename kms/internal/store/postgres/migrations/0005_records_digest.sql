-- Schema version 5: the records digest (package store, digest.go): the sum
-- of an element per key, alias and credential, their count and a
-- generation, MACed under a key derived from the root key, its JSON (the
-- record column). One row, or none in a store whose root check is older
-- than v3 (attestkms store protect makes it). Every change that writes
-- records locks it first (SELECT … FOR UPDATE) and writes it back. No
-- trigger: it is no record a node's cache follows.

CREATE TABLE records_digest (
	one    boolean PRIMARY KEY DEFAULT true CHECK (one),
	record bytea   NOT NULL
);

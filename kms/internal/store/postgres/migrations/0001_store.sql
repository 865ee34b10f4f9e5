-- Schema version 1: the store of one account, as bbolt keeps it (package
-- store's records), for one or several nodes.
--
-- Ids and names are text in byte order (COLLATE "C"), as bbolt orders its
-- keys. A record is the JSON of its store type, byte for byte as bbolt
-- stores it, in a bytea column (package doc, "Schema"); what is looked up or
-- ordered by is a column beside it. Every row carries a version, which a
-- trigger sets from one sequence on every insert and update, whoever writes
-- the row.

CREATE SEQUENCE record_version AS bigint;

CREATE FUNCTION record_versioned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.version := nextval('record_version');
	RETURN NEW;
END
$$;

-- The store's meta: one row, absent until init writes it.
CREATE TABLE meta (
	one        boolean PRIMARY KEY DEFAULT true CHECK (one),
	account_id text    NOT NULL,
	project_id text    NOT NULL,
	region     text    NOT NULL, -- '': none recorded
	root_check bytea   NOT NULL, -- sealed under the root key
	version    bigint  NOT NULL
);

CREATE TABLE keys (
	id      text COLLATE "C" PRIMARY KEY,
	state   text   NOT NULL, -- the record's state, for whoever queries; the record decides
	version bigint NOT NULL,
	record  bytea  NOT NULL  -- store.Key's JSON; its materials sealed under the root key
);

CREATE TABLE aliases (
	name    text COLLATE "C" PRIMARY KEY,
	key_id  text COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	version bigint NOT NULL,
	record  bytea  NOT NULL -- store.Alias's JSON
);
CREATE INDEX aliases_key_id ON aliases (key_id);

CREATE TABLE credentials (
	access_key_id text COLLATE "C" PRIMARY KEY,
	name          text COLLATE "C" NOT NULL UNIQUE,
	version       bigint NOT NULL,
	record        bytea  NOT NULL -- store.Credential's JSON; its secret sealed under the root key
);

-- The seq of the last change record committed on each audit chain ('': a
-- single node's one chain).
CREATE TABLE audit_chains (
	chain text COLLATE "C" PRIMARY KEY,
	seq   bigint NOT NULL CHECK (seq >= 0)
);

CREATE TRIGGER meta_version BEFORE INSERT OR UPDATE ON meta
	FOR EACH ROW EXECUTE FUNCTION record_versioned();
CREATE TRIGGER keys_version BEFORE INSERT OR UPDATE ON keys
	FOR EACH ROW EXECUTE FUNCTION record_versioned();
CREATE TRIGGER aliases_version BEFORE INSERT OR UPDATE ON aliases
	FOR EACH ROW EXECUTE FUNCTION record_versioned();
CREATE TRIGGER credentials_version BEFORE INSERT OR UPDATE ON credentials
	FOR EACH ROW EXECUTE FUNCTION record_versioned();

-- Schema version 2: change notifications, so that several nodes' caches
-- follow what any of them commits (package doc, "Notifications").
--
-- Every row inserted, updated or deleted in meta, keys, aliases or
-- credentials, by attestkms or by hand, counts one revision and sends
-- NOTIFY attestkms_changes, '[revision, kind, id, version]' (version 0: the
-- row was deleted). The triggers are deferred: they run at commit, so the
-- counter's row is locked only while the transaction commits, and
-- PostgreSQL delivers the notifications only if it does, in commit order.
-- A listener that missed some (its connection was lost) compares the
-- revision it last saw with the table's.

CREATE TABLE changes (
	one      boolean PRIMARY KEY DEFAULT true CHECK (one),
	revision bigint  NOT NULL
);
INSERT INTO changes (revision) VALUES (0);

CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	rev   bigint;
	r     record;
	rid   text := '';
	rver  bigint := 0;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
		rver := NEW.version;
	END IF;
	IF TG_TABLE_NAME = 'keys' THEN
		rid := r.id;
	ELSIF TG_TABLE_NAME = 'aliases' THEN
		rid := r.name;
	ELSIF TG_TABLE_NAME = 'credentials' THEN
		rid := r.access_key_id;
	END IF;
	UPDATE changes SET revision = revision + 1 RETURNING revision INTO rev;
	PERFORM pg_notify('attestkms_changes', json_build_array(rev, TG_ARGV[0], rid, rver)::text);
	RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER meta_changed AFTER INSERT OR UPDATE OR DELETE ON meta
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notify_change('meta');
CREATE CONSTRAINT TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE ON keys
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notify_change('key');
CREATE CONSTRAINT TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE ON aliases
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notify_change('alias');
CREATE CONSTRAINT TRIGGER credentials_changed AFTER INSERT OR UPDATE OR DELETE ON credentials
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notify_change('credential');

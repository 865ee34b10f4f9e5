-- Schema version 3: the service's answer-signing keys (kms/servicekey.go,
-- docs/answers.md), sealed under the root key as one value. NULL in a store
-- migrated from version 2: attestkms generates a key on its first Open that
-- can write.

ALTER TABLE meta ADD COLUMN service_keys bytea;

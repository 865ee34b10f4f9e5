package kms

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// A node of a shared store (PostgreSQL) keeps in its data directory what is
// its own: its audit log, one hash chain per node, and node.json, which
// names the node and the account of the store it serves. The store keeps
// each node's audit change seq under the node's id (the chain's name,
// package store's doc), so that each node resolves its own unresolved
// change record at Open, as a single node does with "".
//
// node.json binds the directory to one store: a directory made for one
// account is refused for another (its log's change records would be judged
// against a seq the other store never kept), and so is a data directory
// that holds an embedded store (kms.db) or an audit log but no node.json.
// A node locks its directory (node.lock) while it runs: two processes
// appending to one log would break its chain.

const (
	nodeFile     = "node.json"
	nodeLockFile = "node.lock"
)

// nodeIDRE is what a node id is: "node-" and 16 hex digits.
var nodeIDRE = regexp.MustCompile(`^node-[0-9a-f]{16}$`)

type nodeInfo struct {
	NodeID    string `json:"node_id"`
	AccountID string `json:"account_id"`
}

// readNode reads dataDir's node.json; ok=false if there is none.
func readNode(dataDir string) (n nodeInfo, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, nodeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return n, false, nil
	}
	if err != nil {
		return n, false, err
	}
	if err := json.Unmarshal(b, &n); err != nil || !nodeIDRE.MatchString(n.NodeID) || n.AccountID == "" {
		return n, false, fmt.Errorf("%s is not a node file of attestkms", filepath.Join(dataDir, nodeFile))
	}
	return n, true, nil
}

// nodeOf returns the node id of dataDir for the store of account acct,
// making the directory a node of it if it is not one yet. auditPath is the
// log the node will write.
func nodeOf(dataDir, auditPath string, acct Account) (string, error) {
	n, ok, err := readNode(dataDir)
	if err != nil {
		return "", err
	}
	if ok {
		if n.AccountID != acct.AccountID {
			return "", fmt.Errorf("%w: %s is the data directory of a node of account %s's store, not of this store's (%s): give each store's nodes their own", ErrStoreMismatch, dataDir, n.AccountID, acct.AccountID)
		}
		return n.NodeID, nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, dbFile)); err == nil {
		return "", fmt.Errorf("%w: %s holds an embedded store (%s): a node of a shared store needs a data directory of its own", ErrStoreMismatch, dataDir, dbFile)
	}
	if _, err := os.Stat(auditPath); err == nil {
		return "", fmt.Errorf("%w: %s exists but %s names no node: the log belongs to another store; give the node a new data directory (or --audit-path)", ErrStoreMismatch, auditPath, filepath.Join(dataDir, nodeFile))
	}
	var b [8]byte
	rand.Read(b[:])
	n = nodeInfo{NodeID: "node-" + hex.EncodeToString(b[:]), AccountID: acct.AccountID}
	doc, _ := json.Marshal(n)
	if err := writeFileSync(filepath.Join(dataDir, nodeFile), append(doc, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("making %s a node: %w", dataDir, err)
	}
	return n.NodeID, nil
}

// NodeID is the node id of dataDir, a node of a shared store, for
// attestkms audit verify: the name its audit chain goes by in the store.
// ok=false if dataDir is not a node's.
func NodeID(dataDir string) (id string, ok bool, err error) {
	n, ok, err := readNode(dataDir)
	return n.NodeID, ok, err
}

// prepareDataDir makes dataDir (mode 0700) if it does not exist.
func prepareDataDir(dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	return nil
}

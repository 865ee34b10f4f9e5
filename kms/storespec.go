package kms

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Options.Store names the store; storeSpec is what it names.
type storeSpec struct {
	// path is the bbolt file of an embedded store; "" for a shared one.
	path string
	// url is the postgres:// URL of a shared store.
	url string
}

// shared reports whether the store is shared by several nodes (PostgreSQL).
func (sp storeSpec) shared() bool { return sp.url != "" }

// ErrStorePassword is the refusal of a store URL that carries a password:
// a command line is seen by every user of the machine (ps), and kept in
// shell histories and unit files. The password comes from PGPASSWORD, the
// passfile, or Options.StorePassword (serve --store-password-file).
var ErrStorePassword = errors.New("the store's URL carries a password")

// storeSpec parses o.Store (Options.Store's doc).
func (o *Options) storeSpec() (storeSpec, error) {
	s := o.Store
	switch {
	case s == "":
		if o.DataDir == "" {
			return storeSpec{}, errors.New("no data directory given")
		}
		return storeSpec{path: filepath.Join(o.DataDir, dbFile)}, nil
	case strings.HasPrefix(s, "bolt:"):
		p := strings.TrimPrefix(s, "bolt:")
		if p == "" {
			return storeSpec{}, errors.New("the store bolt:PATH names no file")
		}
		return storeSpec{path: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if err := CheckStoreURL(s); err != nil {
			return storeSpec{}, err
		}
		return storeSpec{url: s}, nil
	}
	return storeSpec{}, errors.New("the store must be bolt:PATH or a postgres://… URL")
}

// SharedStore reports whether store (Options.Store) names a store several
// nodes share (postgres://…), which serve never initialises by itself and
// which needs a node's own data directory.
func SharedStore(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// CheckStoreURL refuses a postgres:// URL that does not parse or that
// carries a password (ErrStorePassword), in its user part or as a password
// parameter. Its errors never quote the URL.
func CheckStoreURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return errors.New("the store's URL does not parse as a postgres:// URL")
	}
	if _, set := u.User.Password(); set {
		return fmt.Errorf("%w (user:PASSWORD@host)", ErrStorePassword)
	}
	for k := range u.Query() {
		if strings.Contains(strings.ToLower(k), "password") { // password, sslpassword
			return fmt.Errorf("%w (a %s parameter)", ErrStorePassword, strings.ToLower(k))
		}
	}
	return nil
}

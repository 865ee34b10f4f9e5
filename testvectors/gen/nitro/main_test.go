package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRegenerate checks that the committed vectors are exactly what the
// generator makes: nobody edited them by hand, and generation is
// deterministic.
func TestRegenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("makes RSA keys with math/big: slow")
	}
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "nitro", "generated")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var committed []string
	for _, e := range entries {
		committed = append(committed, e.Name())
	}
	var generated []string
	for name, b := range files {
		generated = append(generated, name)
		old, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./testvectors/gen/nitro)", name, err)
			continue
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s differs from what the generator makes now (run go generate ./testvectors/gen/nitro)", name)
		}
	}
	slices.Sort(committed)
	slices.Sort(generated)
	if !slices.Equal(committed, generated) {
		t.Errorf("committed files %v; the generator makes %v", committed, generated)
	}
}

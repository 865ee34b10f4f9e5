package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain builds attestsim once, for the simulated attestors, which run it,
// and points enclavetool at it with $ATTESTKMS_ATTESTSIM.
func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "enclavetool-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	attestsim := filepath.Join(dir, "attestsim")
	if out, err := exec.Command("go", "build", "-o", attestsim, "../attestsim").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building attestsim: %v\n%s", err, out)
		return 1
	}
	os.Setenv(attestsimEnv, attestsim)
	// The tests say where the server is; a developer's AWS settings must
	// not (TestEnvironment sets them itself).
	for _, n := range []string{"AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"} {
		os.Unsetenv(n)
	}
	return m.Run()
}

package gctune

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// TestApply: without GOGC the collector's percent becomes Percent; with
// GOGC set, it is left as the environment made it. Each case runs in a
// child process (the runtime reads GOGC at start).
func TestApply(t *testing.T) {
	if os.Getenv("GCTUNE_CHILD") == "1" {
		got := Apply()
		now := debug.SetGCPercent(-1)
		os.Stdout.WriteString(got + " " + strconv.Itoa(now) + "\n")
		os.Exit(0)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{{nil, "400 400"}, {[]string{"GOGC=150"}, "150 150"}, {[]string{"GOGC=off"}, "off -1"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestApply$")
		cmd.Env = append(withoutGOGC(os.Environ()), append(tc.env, "GCTUNE_CHILD=1")...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("env %v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

func withoutGOGC(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "GOGC=") {
			out = append(out, e)
		}
	}
	return out
}

// TestPercentFor: 400 while the heap's growth stays under 64 MiB, then as
// much as fits in 64 MiB, never under Go's 100.
func TestPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{{0, 400}, {5 << 20, 400}, {16 << 20, 400}, {32 << 20, 200}, {64 << 20, 100}, {1 << 30, 100}, {20 << 20, 320}} {
		if got := percentFor(tc.live); got != tc.want {
			t.Errorf("percentFor(%d MiB) = %d; want %d", tc.live>>20, got, tc.want)
		}
	}
}

package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/attestkms/attestkms", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"stamped", stamped, "attestkms v1.2.3, revision 0123456789abcdef0123456789abcdef01234567 (committed 2026-12-01T10:00:00Z), go1.26.8 linux/arm64"},
		{"modified", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201100000-0123456789ab+dirty"},
			Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}, {Key: "vcs.revision", Value: "0123456789ab"}, {Key: "vcs.modified", Value: "true"}}},
			"attestkms v0.0.0-20261201100000-0123456789ab+dirty, revision 0123456789ab (modified: built with uncommitted changes), go1.26.8 linux/amd64"},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"attestkms (devel), revision unknown (built without VCS stamping: go run, -buildvcs=false, or outside a git checkout), go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH},
		{"no build info", nil, "attestkms (unknown), revision unknown (built without VCS stamping: go run, -buildvcs=false, or outside a git checkout), " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
	} {
		if got := Format("attestkms", tc.bi); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if !IsFlag("--version") || !IsFlag("-version") || IsFlag("-v") || IsFlag("version") {
		t.Error("IsFlag")
	}
}

// TestBuiltBinaries builds the four binaries from this checkout with VCS
// stamping on and checks that --version prints one line, the same in all four
// but for the name, naming the checkout's revision and whether it had
// uncommitted changes. In a git worktree, which the go command does not
// recognise as a checkout (its .git is a file), or without git, nothing is
// stamped and the line says the revision is unknown.
func TestBuiltBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-buildvcs=true", "-o", dir+string(os.PathSeparator),
		"../../cmd/attestkms", "../../cmd/enclavetool", "../../cmd/attestsim", "../../cmd/kmsload")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	meta, err := exec.Command("go", "version", "-m", filepath.Join(dir, "attestkms")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "revision unknown"
	if m := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=(\S+)$`).FindSubmatch(meta); m != nil {
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(m[1]) != strings.TrimSpace(string(head)) {
			t.Fatalf("stamped revision %s; HEAD is %s", m[1], head)
		}
		want = "revision " + string(m[1])
	} else {
		t.Logf("the go command stamped no revision (a git worktree, or no git): checking the unstamped line")
	}
	var lines []string
	for _, name := range []string{"attestkms", "enclavetool", "attestsim", "kmsload"} {
		out, err := exec.Command(filepath.Join(dir, name), "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", name, err, out)
		}
		line := strings.TrimSuffix(string(out), "\n")
		if !strings.HasPrefix(line, name+" ") || !strings.Contains(line, want) || strings.Contains(line, "\n") {
			t.Errorf("%s --version = %q; want one line naming it and %q", name, line, want)
		}
		if strings.Contains(string(meta), "vcs.modified=true") != strings.Contains(line, "modified: built with uncommitted changes") {
			t.Errorf("%s --version = %q; the build's vcs.modified is not reported", name, line)
		}
		lines = append(lines, strings.TrimPrefix(line, name))
	}
	for _, l := range lines[1:] {
		if l != lines[0] {
			t.Errorf("--version differs between binaries:\n%s\n%s", lines[0], l)
		}
	}
	if out, err := exec.Command(filepath.Join(dir, "attestkms"), "version").Output(); err != nil || strings.TrimPrefix(strings.TrimSpace(string(out)), "attestkms") != lines[0] {
		t.Errorf("attestkms version = %q, %v; want what --version prints", out, err)
	}
}

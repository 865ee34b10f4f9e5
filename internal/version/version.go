// Package version says what a binary was built from, the same way in every
// attestkms binary (attestkms, enclavetool, attestsim, kmsload): the main
// module's version and the VCS revision the go command stamped into it
// (runtime/debug.ReadBuildInfo), whether the tree had uncommitted changes,
// and the Go toolchain and platform.
//
// The revision is there only when the binary was built from a git checkout
// with VCS stamping on (go build's default, or -buildvcs=true, as
// scripts/release.sh builds): go run, tests, -buildvcs=false and a tree
// without .git leave it out, and String says so.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// String is the line a binary's --version prints, e.g.
//
//	attestkms v0.0.0-20261201100000-2d7e3bf0c1b9, revision 2d7e3bf0c1b9d0e1f2a3b4c5d6e7f8091a2b3c4d (committed 2026-12-01T10:00:00Z), go1.26.8 linux/amd64
func String(program string) string {
	bi, _ := debug.ReadBuildInfo() // nil when the binary carries none
	return Format(program, bi)
}

// Format is String for the build information bi (nil: none was embedded).
func Format(program string, bi *debug.BuildInfo) string {
	var b strings.Builder
	b.WriteString(program)
	mod, goVersion := "(unknown)", runtime.Version()
	settings := map[string]string{}
	if bi != nil {
		if bi.Main.Version != "" {
			mod = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	b.WriteString(" " + mod)
	switch rev := settings["vcs.revision"]; rev {
	case "":
		b.WriteString(", revision unknown (built without VCS stamping: go run, -buildvcs=false, or outside a git checkout)")
	default:
		fmt.Fprintf(&b, ", revision %s", rev)
		var notes []string
		if t := settings["vcs.time"]; t != "" {
			notes = append(notes, "committed "+t)
		}
		if settings["vcs.modified"] == "true" {
			notes = append(notes, "modified: built with uncommitted changes")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, "; "))
		}
	}
	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos == "" || goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	fmt.Fprintf(&b, ", %s %s/%s", goVersion, goos, goarch)
	return b.String()
}

// IsFlag reports whether arg asks for the version: --version or -version
// (not -v, which means verbose to many tools).
func IsFlag(arg string) bool { return arg == "--version" || arg == "-version" }

#!/usr/bin/env bash
# scripts/release.sh: build the release binaries of HEAD, twice, and keep them
# only if both builds are byte-for-byte the same.
#
#   scripts/release.sh [--out DIR] [--platforms "linux/amd64 linux/arm64"]
#
# attestkms, enclavetool and attestsim are built static (CGO_ENABLED=0) for
# each platform with -trimpath (no build paths in the binary), -buildvcs=true
# (the revision, its time and "not modified" are embedded: --version prints
# them) and -ldflags=-buildid= (no build id, which would differ by toolchain
# cache), in two clean clones of HEAD at two different paths, each with its
# own empty build cache, so that nothing of one build reaches the other. The
# script fails unless every binary's SHA-256 is the same in both.
#
# DIR (default dist/, git-ignored) then holds the binaries
# (NAME-OS-ARCH), SHA256SUMS (sha256sum -c SHA256SUMS checks them) and
# BUILDINFO: "go version -m" of each binary, the Go version, the build flags
# and every module compiled in, with its version and go.sum hash.
#
# Uncommitted changes are not released: the clones are of HEAD, and the
# script says so when the work tree differs from it. Needs git and the Go
# toolchain; modules come from the module cache or the proxy, checked
# against go.sum. Two platforms take a few minutes (every package is
# compiled four times, from an empty cache).
set -euo pipefail

out=dist
platforms="linux/amd64 linux/arm64"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --platforms) platforms=${2:?--platforms needs a list}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release.sh: error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

root=$(git rev-parse --show-toplevel)
cd "$root"
rev=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain)" ]; then
  echo "release.sh: warning: the work tree has uncommitted changes; releasing HEAD ($rev) without them" >&2
fi
case "$out" in /*) ;; *) out="$root/$out" ;; esac
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/SHA256SUMS" ]; then
  echo "release.sh: error: $out exists and is not an earlier release's directory: choose another --out" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/attestkms-release.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

binaries="attestkms enclavetool attestsim"

# build COPY: clone HEAD into COPY (a fresh path) and build every binary for
# every platform into COPY/out, with a build cache of its own.
build() {
  local copy=$1
  git clone --quiet --no-hardlinks "$root" "$copy/src"
  git -C "$copy/src" checkout --quiet --detach "$rev"
  local platform goos goarch
  for platform in $platforms; do
    goos=${platform%/*} goarch=${platform#*/}
    (
      cd "$copy/src"
      # GOFLAGS from the environment (or go env) must not add to the
      # release's flags; GOTOOLCHAIN=local: the Go on this machine, named in
      # BUILDINFO.
      env GOFLAGS= GOTOOLCHAIN=local GOCACHE="$copy/cache" CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" \
        go build -trimpath -buildvcs=true -ldflags=-buildid= -o "$copy/out/$goos-$goarch/" \
        $(for b in $binaries; do echo "./cmd/$b"; done)
    )
  done
}

echo "== building $rev for $platforms, twice"
build "$tmp/first"
build "$tmp/second-build-elsewhere"

# Everything is checked, and the release assembled in $tmp/release, before
# $out is touched: a failed run leaves an earlier release as it was (and
# never a directory without SHA256SUMS that the next run would refuse).
stage="$tmp/release"
mkdir -p "$stage"
failed=0
for platform in $platforms; do
  goos=${platform%/*} goarch=${platform#*/}
  for b in $binaries; do
    one="$tmp/first/out/$goos-$goarch/$b"
    two="$tmp/second-build-elsewhere/out/$goos-$goarch/$b"
    h1=$(sha256sum "$one" | cut -d' ' -f1)
    h2=$(sha256sum "$two" | cut -d' ' -f1)
    name="$b-$goos-$goarch"
    if [ "$h1" != "$h2" ]; then
      echo "release.sh: error: $name is not reproducible: $h1 (first build) != $h2 (second build)" >&2
      failed=1
      continue
    fi
    info=$(go version -m "$one")
    for want in "vcs.revision=$rev" "vcs.modified=false" "CGO_ENABLED=0" "-trimpath=true"; do
      if ! grep -qF -- "$want" <<<"$info"; then
        echo "release.sh: error: $name lacks $want in its build information" >&2
        failed=1
      fi
    done
    echo "$name  $h1 (both builds)"
    cp "$one" "$stage/$name"
    { sed "1s|^$one|$name|" <<<"$info"; echo; } >>"$stage/BUILDINFO"
  done
done
if [ "$failed" != 0 ]; then
  echo "release.sh: error: nothing written to $out" >&2
  exit 1
fi
(cd "$stage" && sha256sum $(for p in $platforms; do for b in $binaries; do echo "$b-${p%/*}-${p#*/}"; done; done) >SHA256SUMS)
mkdir -p "$out"
rm -f "$out/SHA256SUMS" "$out/BUILDINFO"
cp "$stage"/* "$out/"
echo "== $out: the binaries, SHA256SUMS and BUILDINFO of $rev"

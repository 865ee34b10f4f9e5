#!/usr/bin/env bash
# scripts/perf.sh: measure attestkms's CPU per request against its floors,
# as docs/PERFORMANCE.md reports them.
#
#   scripts/perf.sh [--runs N] [--duration D] [--concurrency "C ..."] [--out DIR] [--profile]
#
# It builds attestkms, kmsload, attestsim and enclavetool from the work tree,
# initialises a store in a temporary directory, and starts
#
#   attestkms serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --pprof
#                   --nitro-roots CA/root.pem --rate-limit 1000000
#
# that is, with what production runs with: the hash-chained audit log (it
# is always on, fsync'd before a key use is answered), the metrics (every
# request counted and timed), and the limits: the per-key rate limit, the
# per-source budget for failed authentications (default 20/s) and the
# budget for new certificate chains (default 50/s). The per-key limit is
# raised from its default of 2000 requests a second, not switched off:
# every request still takes a token from its key's bucket, which costs what
# it costs at any rate, but this 2-core machine answers GenerateDataKey
# faster than 2000 a second, and a throttled request is an error answered
# early, whose CPU would say nothing about a real one. Every run must end
# with no errors, or the script fails.
#
# Then, N times (default 3), for each concurrency C in the list (default
# "8 64": a few clients, and many), one after the other:
#
#   kmsload --op GenerateDataKey --concurrency C --server-pid PID --baseline
#   kmsload --op DeriveSharedSecret --evidence doc.cbor --concurrency C --server-pid PID --baseline
#
# each in --rounds 3 that alternate the server and kmsload's canned-answer
# server (paced at the server's rate), D per server (default 9s); doc.cbor is
# a fresh Nitro document from enclavetool's simulated attestor (attestsim's
# test CA, which the server trusts). Concurrency matters because a key use
# is answered only once its audit line is fsync'd, and an fsync (about
# 100 µs of kernel CPU on the project's VM) is shared by the lines waiting
# for it: few clients, few lines per fsync. It prints each run's figures,
# then the medians: the GenerateDataKey ratio (server CPU per request over
# the canned server's) and the DeriveSharedSecret ratio to its crypto
# floor, with the machine's load average before and after. --profile then
# takes a 20-second CPU profile of the server under each load at the last
# concurrency (DIR/cpu-OP.pprof; read it with go tool pprof -top). The
# reports are kept in DIR with --out (default: a temporary directory,
# removed).
#
# Linux only (kmsload reads /proc). Needs the Go toolchain, jq and curl.
set -euo pipefail

runs=3
duration=9s
concurrencies="8 64"
out=""
profile=false
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --concurrency) concurrencies="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --profile) profile=true; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in go jq curl; do
  command -v "$tool" >/dev/null || { echo "perf.sh: needs $tool" >&2; exit 2; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attestkms-perf.XXXXXX")
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "$out" ]; then out="$tmp/out"; fi
mkdir -p "$out"
bin="$tmp/bin"

echo "perf.sh: building (go build) ..." >&2
(cd "$repo" && go build -o "$bin/" ./cmd/attestkms ./cmd/kmsload ./cmd/attestsim ./cmd/enclavetool)
"$bin/attestkms" init --data-dir "$tmp/data" >"$tmp/cred.json"
"$bin/attestsim" nitro-ca --out "$tmp/ca" >/dev/null

"$bin/attestkms" serve --data-dir "$tmp/data" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --pprof --nitro-roots "$tmp/ca/root.pem" \
  --rate-limit 1000000 2>"$out/serve.log" &
server=$!
endpoint="" metrics=""
for _ in $(seq 100); do
  endpoint=$(sed -n 's|^attestkms: serving .* on \(http://[0-9.:]*\) .*|\1|p' "$out/serve.log")
  metrics=$(sed -n 's|^attestkms: metrics .* on \(http://[0-9.:]*\)/metrics$|\1|p' "$out/serve.log")
  [ -n "$endpoint" ] && [ -n "$metrics" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$out/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$endpoint" ] || { echo "perf.sh: the server did not start" >&2; cat "$out/serve.log" >&2; exit 1; }
echo "perf.sh: attestkms (pid $server) on $endpoint, metrics on $metrics" >&2

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
kmsload() {
  "$bin/kmsload" --endpoint "$endpoint" --credential "$tmp/cred.json" \
    --duration "$duration" --server-pid "$server" "$@"
}
attest() { "$bin/enclavetool" attest --attestor sim --sim-ca "$tmp/ca" --out "$1" 2>/dev/null; }

for i in $(seq "$runs"); do
  for c in $concurrencies; do
    kmsload --op GenerateDataKey --concurrency "$c" --baseline >"$out/gdk-c$c-$i.json"
    rm -f "$tmp/doc.cbor"
    attest "$tmp/doc.cbor"
    kmsload --op DeriveSharedSecret --evidence "$tmp/doc.cbor" --concurrency "$c" --baseline >"$out/dss-c$c-$i.json"
    for f in "$out/gdk-c$c-$i.json" "$out/dss-c$c-$i.json"; do
      if [ "$(jq '.errors + .baseline.errors' "$f")" != 0 ]; then
        echo "perf.sh: $f has errors: $(jq -r '.first_error // .baseline.first_error' "$f")" >&2
        exit 1
      fi
    done
    jq -r --arg i "$i" --arg c "$c" '"run \($i) c=\($c) GenerateDataKey:    server \(.server_cpu_us_per_request) µs/req, canned \(.baseline_cpu_us_per_request) µs/req, ratio \(.ratio) (\(.requests_per_second|floor)/s, p50 \(.p50_ms) ms)"' "$out/gdk-c$c-$i.json"
    jq -r --arg i "$i" --arg c "$c" '"run \($i) c=\($c) DeriveSharedSecret: server \(.server_cpu_us_per_request) µs/req, crypto floor \(.crypto_floor_us_per_request) µs/req, ratio \(.crypto_floor_ratio); canned \(.baseline_cpu_us_per_request) µs/req (\(.requests_per_second|floor)/s, p50 \(.p50_ms) ms)"' "$out/dss-c$c-$i.json"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { jq -s "map($1) | sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end"; }
echo
echo "medians of $runs runs (load average $load_before before, $load_after after; $(nproc) CPUs):"
for c in $concurrencies; do
  g=("$out"/gdk-c"$c"-*.json) d=("$out"/dss-c"$c"-*.json)
  echo "  c=$c GenerateDataKey:    server $(cat "${g[@]}" | median .server_cpu_us_per_request) µs/req, canned $(cat "${g[@]}" | median .baseline_cpu_us_per_request) µs/req, ratio $(cat "${g[@]}" | median .ratio)   (target ≤ 1.5)"
  echo "  c=$c DeriveSharedSecret: server $(cat "${d[@]}" | median .server_cpu_us_per_request) µs/req, floor $(cat "${d[@]}" | median .crypto_floor_us_per_request) µs/req, ratio $(cat "${d[@]}" | median .crypto_floor_ratio)   (target ≤ 1.3)"
done
echo "  floor parts (µs, last run): $(jq -c .crypto_floor_us "${d[-1]}")"

if $profile; then
  for op in GenerateDataKey DeriveSharedSecret; do
    args=(--op "$op" --duration 22s --rounds 1 --concurrency "$c")
    if [ "$op" = DeriveSharedSecret ]; then rm -f "$tmp/doc.cbor"; attest "$tmp/doc.cbor"; args+=(--evidence "$tmp/doc.cbor"); fi
    kmsload "${args[@]}" >"$out/profiled-$op.json" &
    sleep 1
    curl -sf -o "$out/cpu-$op.pprof" "$metrics/debug/pprof/profile?seconds=20"
    wait $!
    echo "profile of $op: $out/cpu-$op.pprof (go tool pprof -top $out/cpu-$op.pprof)"
  done
fi
if [ "$out" != "$tmp/out" ]; then echo "reports in $out"; fi

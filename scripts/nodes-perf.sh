#!/usr/bin/env bash
# scripts/nodes-perf.sh: what a PostgreSQL store costs, as docs/PERFORMANCE.md
# ("Several nodes") reports it.
#
#   scripts/nodes-perf.sh [--duration D] [--concurrency C] [--out DIR]
#
# It builds attestkms, kmsload, attestsim and enclavetool from the work tree,
# starts a throwaway PostgreSQL (scripts/postgres.sh), and measures on this
# machine, one after the other:
#
#  1. server CPU per request (kmsload --server-pid, 3 rounds of D) of
#     GenerateDataKey and of an attested DeriveSharedSecret (a Nitro
#     document from attestsim's test CA), on one node over bbolt, then on
#     one node over PostgreSQL — with PostgreSQL's own CPU per request (its
#     processes' /proc times) and its transactions per request
#     (pg_stat_database's xact_commit + xact_rollback: a statement outside a
#     transaction is one; a warm key's use should need none);
#  2. GenerateDataKey throughput with 1, 2 and 3 nodes over PostgreSQL, the
#     same C clients in all split among the nodes (one kmsload per node,
#     run at once), summed.
#
# Everything shares this machine's cores: the nodes, PostgreSQL and kmsload.
# Linux only (kmsload reads /proc); needs jq, psql and PostgreSQL's server
# binaries. KMSLOAD=path uses another kmsload (one with --server-pid).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10s
conc=16
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --concurrency) conc="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--duration D] [--concurrency C] [--out DIR]" >&2; exit 2 ;;
  esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/attestkms-nodes-perf.XXXXXX")
pg=$(mktemp -d "${TMPDIR:-/tmp}/attestkms-nodes-pg.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/postgres.sh stop "$pg"
  rm -rf "$pg"
  if [ -z "$out" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
if [ -n "$out" ]; then mkdir -p "$out"; tmp=$out; fi

go build -o "$tmp/bin/" ./cmd/attestkms ./cmd/attestsim ./cmd/enclavetool ./cmd/kmsload
kmsload=${KMSLOAD:-$tmp/bin/kmsload}
bin=$tmp/bin
eval "$(scripts/postgres.sh start "$pg")"
pgdb() { psql "$ATTESTKMS_TEST_POSTGRES" -XAtqc "$1"; }
pgdb 'CREATE DATABASE attestkms'
store="${ATTESTKMS_TEST_POSTGRES%/postgres*}/attestkms?sslmode=disable"
"$bin/attestsim" nitro-ca --out "$tmp/ca" >/dev/null

# pgcpu prints PostgreSQL's CPU seconds so far: the postmaster's own and
# its children's that ended (cutime, cstime), and its live children's
# (backends, writers), from /proc.
pgcpu() {
  local pm tck
  pm=$(head -1 "$PGDATA/postmaster.pid")
  tck=$(getconf CLK_TCK)
  awk -v pm="$pm" -v tck="$tck" '
    { sub(/^.*\) /, "") }
    FILENAME == "/proc/" pm "/stat" { t += $12 + $13 + $14 + $15; next }
    $2 == pm { t += $12 + $13 }
    END { printf "%.3f\n", t / tck }' /proc/[0-9]*/stat 2>/dev/null
}
pgxacts() { pgdb "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'attestkms'"; }

# start NAME ARGS...: attestkms serve in the background; sets addr and pid.
start() {
  local name=$1; shift
  "$bin/attestkms" serve --listen 127.0.0.1:0 --nitro-roots "$tmp/ca/root.pem" --rate-limit 0 "$@" 2>"$tmp/$name.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do
    addr=$(sed -n 's/.*serving .* on http:\/\/\([^ ]*\) .*/\1/p' "$tmp/$name.log")
    [ -n "$addr" ] && return
    sleep 0.1
  done
  cat "$tmp/$name.log" >&2
  exit 1
}

# measure LABEL CRED: server CPU of GenerateDataKey and attested
# DeriveSharedSecret against $addr/$pid, with PostgreSQL's cost when asked.
measure() {
  local label=$1 cred=$2 op args rep c0 c1 x0 x1 n
  rm -f "$tmp/doc.cbor"
  "$bin/enclavetool" attest --attestor sim --sim-ca "$tmp/ca" --out "$tmp/doc.cbor" >/dev/null
  for op in GenerateDataKey DeriveSharedSecret; do
    args=()
    [ "$op" = DeriveSharedSecret ] && args=(--evidence "$tmp/doc.cbor")
    c0=$(pgcpu); x0=$(pgxacts)
    rep=$("$kmsload" --endpoint "http://$addr" --credential "$cred" --op "$op" "${args[@]}" \
      --concurrency "$conc" --duration "$duration" --server-pid "$pid" --rounds 3)
    c1=$(pgcpu); x1=$(pgxacts)
    echo "$rep" >"$tmp/$label-$op.json"
    n=$(jq .requests <<<"$rep")
    printf '%-9s %-19s %8.0f req/s  server %7.1f µs/req  postgres %6.1f µs/req  %.4f db xacts/req  errors %s\n' \
      "$label" "$op" "$(jq .requests_per_second <<<"$rep")" "$(jq .server_cpu_us_per_request <<<"$rep")" \
      "$(echo "($c1 - $c0) * 1000000 / $n" | bc -l)" "$(echo "($x1 - $x0) / $n" | bc -l)" "$(jq .errors <<<"$rep")"
  done
}

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== one node, server CPU per request (concurrency $conc, 3 rounds of $duration)"
"$bin/attestkms" init --data-dir "$tmp/bolt" >"$tmp/bolt-admin.json"
start bolt --data-dir "$tmp/bolt"
measure bbolt "$tmp/bolt-admin.json"
kill "$pid"; wait "$pid" || true

"$bin/attestkms" init --store "$store" --root-key-file "$tmp/root.key" >"$tmp/pg-admin.json"
start node1 --store "$store" --root-key-file "$tmp/root.key" --data-dir "$tmp/node1"
measure postgres "$tmp/pg-admin.json"
addrs=("$addr")
start node2 --store "$store" --root-key-file "$tmp/root.key" --data-dir "$tmp/node2"
addrs+=("$addr")
start node3 --store "$store" --root-key-file "$tmp/root.key" --data-dir "$tmp/node3"
addrs+=("$addr")

echo "== GenerateDataKey throughput over PostgreSQL: $conc clients split among 1, 2, 3 nodes, $duration"
for n in 1 2 3; do
  for i in $(seq 0 $((n - 1))); do
    "$kmsload" --endpoint "http://${addrs[$i]}" --credential "$tmp/pg-admin.json" --op GenerateDataKey \
      --concurrency $((conc / n)) --duration "$duration" >"$tmp/tput-$n-$i.json" &
  done
  wait $(jobs -p | tail -n "$n")
  total=0
  for i in $(seq 0 $((n - 1))); do
    total=$(echo "$total + $(jq .requests_per_second "$tmp/tput-$n-$i.json")" | bc -l)
  done
  printf '%d node(s): %8.0f req/s in all\n' "$n" "$total"
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

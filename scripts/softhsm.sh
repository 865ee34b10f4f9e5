#!/usr/bin/env bash
# A throwaway SoftHSM2 token for the PKCS#11 root key's tests
# (kms/internal/p11, tag pkcs11): its own configuration and token
# directory in DIR, a token labelled "attestkms" with random SO and user
# PINs, nothing else on the machine touched.
#
#   eval "$(scripts/softhsm.sh init DIR)"   # prints the exports
#   go test -tags pkcs11 ./kms/internal/p11/
#   rm -rf DIR                              # nothing runs: removing DIR is all
#
# init prints three lines to eval: SOFTHSM2_CONF (SoftHSM2's configuration,
# DIR/softhsm2.conf), ATTESTKMS_TEST_PKCS11_URI (the root key the tests
# create: token attestkms, object attestkms-root) and
# ATTESTKMS_TEST_PKCS11_PIN_FILE (DIR/pin, mode 0600, the user PIN). The SO
# PIN is DIR/so-pin, also 0600. Needs softhsm2-util and the module
# (apt-get install softhsm2); SOFTHSM2_MODULE overrides the module's path.
set -euo pipefail

usage() {
  echo "usage: $0 init DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

find_module() {
  if [ -n "${SOFTHSM2_MODULE:-}" ]; then
    echo "$SOFTHSM2_MODULE"
    return
  fi
  for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    if [ -f "$m" ]; then
      echo "$m"
      return
    fi
  done
  echo "$0: libsofthsm2.so not found: apt-get install softhsm2, or set SOFTHSM2_MODULE" >&2
  exit 1
}

case $cmd in
init)
  if ! command -v softhsm2-util >/dev/null; then
    echo "$0: softhsm2-util not found: apt-get install softhsm2" >&2
    exit 1
  fi
  module=$(find_module)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -e "$dir/tokens" ]; then
    echo "$0: $dir/tokens exists: init makes a new token in an empty DIR" >&2
    exit 1
  fi
  mkdir -m 0700 "$dir/tokens"
  cat >"$dir/softhsm2.conf" <<CONF
# SoftHSM2 for attestkms's tests (scripts/softhsm.sh)
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  # PINs: random, in files only this user reads; never on a command line
  # that outlives this script (softhsm2-util takes them as arguments, which
  # is acceptable for a throwaway test token).
  (
    umask 077
    od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$dir/so-pin"
    od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$dir/pin"
  )
  SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --init-token --free --label attestkms \
    --so-pin "$(cat "$dir/so-pin")" --pin "$(cat "$dir/pin")" >"$dir/init.log" 2>&1 ||
    { cat "$dir/init.log" >&2; exit 1; }
  echo "export SOFTHSM2_CONF='$dir/softhsm2.conf'"
  echo "export ATTESTKMS_TEST_PKCS11_URI='pkcs11:token=attestkms;object=attestkms-root?module-path=$module'"
  echo "export ATTESTKMS_TEST_PKCS11_PIN_FILE='$dir/pin'"
  ;;
*)
  usage
  ;;
esac

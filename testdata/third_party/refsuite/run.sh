#!/bin/sh
# run.sh MEMSNAP NODE_MODULES REPORT: runs the reference memory server's
# vitest suite (this folder; see README.md) against the memsnap binary
# MEMSNAP, with the npm packages installed in NODE_MODULES (make refsuite
# installs them from package-lock.json), writes vitest's JSON report to
# REPORT and prints the passed / failed / excluded counts and each failure.
# Exits 1 when a test fails, an excluded test is not skipped, a test is
# skipped without being listed in excluded.json, or vitest cannot run.
# The suite runs from a temporary copy of this folder (node resolves the
# packages from it through a node_modules link); the stores are made there.
set -eu
[ $# -eq 3 ] || { echo "usage: run.sh MEMSNAP NODE_MODULES REPORT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
modules=$(cd "$2" && pwd)
report=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
work=$(mktemp -d "${TMPDIR:-/tmp}/memsnap-refsuite.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp -R "$here/__tests__" "$here/memsnap-adapter.ts" "$here/setup.ts" "$here/vitest.config.ts" \
  "$here/excluded.json" "$here/package.json" "$work/"
ln -s "$modules" "$work/node_modules"
mkdir "$work/stores"
rm -f "$report"
status=0
(cd "$work" && REFSUITE_MEMSNAP_BIN="$bin" REFSUITE_STORES="$work/stores" REFSUITE_REPORT="$report" \
  node node_modules/vitest/vitest.mjs run --config vitest.config.ts) || status=$?
[ -f "$report" ] || { echo "refsuite: vitest wrote no report (exit $status)"; exit 1; }
node "$here/counts.mjs" "$report" "$here/excluded.json"

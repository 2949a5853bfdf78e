#!/usr/bin/env bash
# README command 2: every test. Unit and adapter tests (aws-smithy-mocks) need nothing;
# the end-to-end tests start their own moto on a free loopback port from .venv, and the
# partner-bus test its own LocalStack from .venv-localstack (moto cannot put rules on a
# bus whose name holds `/`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/moto-venv.sh
scripts/localstack-venv.sh
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test "$@" 2>&1 | tee "$log" || status=$?
# One closing line with the totals of every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"

#!/usr/bin/env bash
# README command 2: every test. Unit and adapter tests (aws-smithy-mocks) need nothing;
# the end-to-end tests start their own moto on a free loopback port from .venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/moto-venv.sh
cargo test "$@"

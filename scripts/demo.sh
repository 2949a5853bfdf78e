#!/usr/bin/env bash
# README command 1: the main job end to end on a local sandbox this script sets up (and
# tears down): check the bus, look at its DLQs and archive.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/sandbox.sh up
trap 'scripts/sandbox.sh down' EXIT
# shellcheck disable=SC1091
source .sandbox/env
nr() {
  printf '\n==> nexus-replay %s\n' "$*" >&2
  target/debug/nexus-replay "$@"
}
nr doctor
nr dlq list
nr archives
printf '\ndemo finished: every step exited 0\n' >&2

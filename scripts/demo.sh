#!/usr/bin/env bash
# README command 1: the main job end to end on a local sandbox this script sets up (and
# tears down): check the bus and its DLQs, then run the subscription-outage playbook
# (replay the window's subscription events to the subscription rule, track the replay to
# COMPLETED, drain the subscription DLQ, verify), then the nightly DLQ drain playbook for
# the other DLQs, and show that every DLQ is empty.
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
nr playbook list
# The sandbox archive was created seconds ago: end the window now (the default end,
# now - 10 min for archive lag, would come before the archive existed).
nr playbook plan subscription-outage --set until=now
nr playbook run subscription-outage --set until=now --yes
nr status
nr dlq peek --queue ai-nexus-dev-stripe-list-invoices-dlq --samples 1
# The sandbox's DLQ messages are 30+ minutes old, so min_age (15m) selects them all.
nr playbook run nightly-dlq-drain --yes
nr dlq list
printf '\ndemo finished: every step exited 0\n' >&2

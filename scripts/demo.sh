#!/usr/bin/env bash
# README command 1: the main job end to end on a local sandbox this script sets up (and
# tears down): check the bus, look at its DLQs and archive, replay the subscription events
# of the last two hours to the subscription rule and track the replay to completion, then
# drain every DLQ of the bus back onto it (dry run first) and check that they are empty.
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
# The sandbox archive was created seconds ago: end the window now (the default end,
# now - 10 min for archive lag, would come before the archive existed).
nr start --since 2h --until now --event-type customer.subscription.updated --yes
nr status
nr list --mine
nr dlq peek --queue ai-nexus-dev-stripe-update-subscription-dlq --samples 1
nr drain --bus ai-nexus-dev-stripe-event-bus --dry-run
nr drain --bus ai-nexus-dev-stripe-event-bus --yes --receive-wait 1s
nr dlq list
printf '\ndemo finished: every step exited 0\n' >&2

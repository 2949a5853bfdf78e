#!/usr/bin/env bash
# The local sandbox: moto on a free loopback port, seeded with the billing topology of
# ../shared/reference/billing-eventbridge-status.md.
#   scripts/sandbox.sh up [seed options]   start and seed; then: source .sandbox/env
#   scripts/sandbox.sh down                stop the emulator
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.sandbox"
action="${1:-up}"
shift || true

stop() {
  if [ -f "$dir/moto.pid" ]; then
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    rm -f "$dir/moto.pid"
  fi
}

case "$action" in
  up)
    "$root/scripts/moto-venv.sh"
    stop
    rm -rf "$dir" && mkdir -p "$dir"
    port="$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    nohup "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    for _ in $(seq 1 150); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      sleep 0.2
    done
    cat >"$dir/env" <<ENV
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-2
export AWS_EC2_METADATA_DISABLED=true
export NEXUS_REPLAY_ENDPOINT_URL=http://127.0.0.1:$port
export NEXUS_REPLAY_BUS=ai-nexus-dev-stripe-event-bus
export NEXUS_REPLAY_STATE_DIR=$dir/state
ENV
    (cd "$root" && cargo build --quiet)
    # shellcheck disable=SC1091
    (source "$dir/env" && "$root/target/debug/nexus-replay" sandbox seed "$@")
    echo "sandbox up: source $dir/env   (stop with scripts/sandbox.sh down)" >&2
    ;;
  down)
    stop
    ;;
  *)
    echo "usage: scripts/sandbox.sh up|down" >&2
    exit 2
    ;;
esac

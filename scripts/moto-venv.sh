#!/usr/bin/env bash
# Ensures .venv holds the emulator (moto server) the sandbox and the e2e tests use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
want="moto[server]==5.2.5"
if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
  exit 0
fi
echo "installing $want into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$want"

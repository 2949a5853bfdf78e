#!/usr/bin/env bash
# Ensures .venv-localstack holds LocalStack (host mode, no Docker) for the e2e test of a
# partner event bus: moto cannot create rules on a bus whose name holds `/`. Its own venv,
# because its pins would clash with moto's. The extra pins make 4.12.0 install and start.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-localstack"
version="4.12.0"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import localstack, sys; from importlib.metadata import version; sys.exit(version("localstack-core") != "'"$version"'")' 2>/dev/null; then
  exit 0
fi
echo "installing localstack-core $version into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "localstack-core[runtime]==$version" "cbor2<5.7" "cryptography>=45.0.1" \
  "pyopenssl>=25.0,<25.2" service_identity

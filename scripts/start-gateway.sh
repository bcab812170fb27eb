#!/bin/sh
# Starts the gateway: `npm start`, the systemd unit, the benchmarks and the process tests all come
# through here. It sets the process settings of scripts/gateway-env.sh, then execs node, so that
# signals reach the gateway itself. NODE: the node binary (default: the one on the PATH).
set -eu
cd "$(dirname "$0")/.."
. scripts/gateway-env.sh
exec "${NODE:-node}" --import tsx src/main.ts "$@"

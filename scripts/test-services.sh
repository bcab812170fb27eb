#!/usr/bin/env bash
# Everything the test suite talks to, brought up idempotently (fast when already up):
# the local Slurm cluster with its sshd, a PostgreSQL server, and nginx for the proxy test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/local-cluster.sh" up
bash "$here/postgres.sh" up
bash "$here/ensure-deploy-tools.sh"

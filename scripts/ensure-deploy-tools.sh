#!/usr/bin/env bash
# Installs what the deployment tests (test/integration/nginx.test.ts) run, from Debian's
# packages, when it is missing: nginx (without starting the distribution's nginx service — the
# test runs its own nginx, own prefix, own port, in front of a test gateway) and systemd's
# systemd-analyze (to verify the sample unit). Idempotent and instant when both are there.
# Needs root to install (as the local cluster does).
set -euo pipefail

missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "ensure-deploy-tools: missing ${missing[*]}; installing needs root (apt-get install ${missing[*]})" >&2
  exit 1
fi

# shellcheck source=lib/apt-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
apt_install_no_start /tmp/ensure-deploy-tools-apt.log "${missing[@]}" || exit 1
echo "ensure-deploy-tools: installed ${missing[*]}"

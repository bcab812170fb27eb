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

created_policy=0
# keep the packages' postinst scripts from starting services (nginx on port 80)
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { [ $created_policy = 0 ] || rm -f /usr/sbin/policy-rc.d; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"; } \
    >/tmp/ensure-deploy-tools-apt.log 2>&1; then
  tail -n 20 /tmp/ensure-deploy-tools-apt.log >&2
  echo "ensure-deploy-tools: apt-get failed (full log: /tmp/ensure-deploy-tools-apt.log)" >&2
  exit 1
fi
echo "ensure-deploy-tools: installed ${missing[*]}"

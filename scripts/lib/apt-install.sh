# shellcheck shell=bash
# Sourced by the service scripts. apt_install_no_start LOGFILE PACKAGE...: install Debian
# packages without letting their postinst scripts start services (munge, mariadb, sshd on :22,
# nginx on :80, Debian's default PostgreSQL): our scripts start what they need themselves.
# Returns non-zero after printing the log's tail if apt fails.
apt_install_no_start() {
  local logfile=$1 created_policy=0 status=0
  shift
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           -o DPkg::Lock::Timeout=600 "$@"; } >"$logfile" 2>&1 || status=$?
  [ $created_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
  if [ $status != 0 ]; then
    tail -n 20 "$logfile" >&2
    echo "apt-get install $* failed (full log: $logfile)" >&2
  fi
  return $status
}

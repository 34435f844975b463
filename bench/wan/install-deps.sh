#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# bench/wan/install-deps.sh - Debian packages the WAN benchmark's peers need (bench/wan/run
# calls it).  Idempotent: asks apt only when one is missing.  Note: installing
# openssh-server on a machine that runs services also starts the system sshd; the bench
# never uses it (it runs a throwaway sshd inside its own namespace).
set -eu

PKGS="iproute2 iputils-ping iperf3 openssh-server openssh-client rsync dcmtk gnuplot-nox"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-wan: missing Debian packages:$missing (run as root)" >&2
	exit 1
fi
echo "bench-wan: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# scripts/install-deps.sh - install the Debian 12 packages radpipe builds, tests and
# benchmarks with.  Idempotent: asks apt only when a package is missing, and runs
# `apt-get update` first in that case (a fresh image has empty package lists).
set -eu

# Libraries we link, tools the tests cross-check with, and the bench peers.
PKGS="build-essential cmake pkg-config git
libcharls-dev libisal-dev libopenjp2-7-dev libopenjph-dev libjpeg62-turbo-dev libjxl-dev
libssl-dev libcmocka-dev libdcmtk-dev libcurl4-openssl-dev
libgdcm-tools dcmtk libopenjp2-tools openjph-tools libjxl-tools python3-pydicom python3-numpy
clang libclang-rt-14-dev hyperfine zstd
gnuplot-nox libbenchmark-dev
openssl procps
iproute2
libfabric-dev libfabric-bin
slurm-wlm munge python3-yaml bc
orthanc orthanc-dicomweb"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run as root, or install them with: sudo apt-get install$missing" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

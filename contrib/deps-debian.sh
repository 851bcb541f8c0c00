#!/bin/sh
# Installs the Debian packages forkpool needs to build and test, skipping
# those already installed.  Run as root (or it uses sudo).
#   contrib/deps-debian.sh            build and test dependencies
#   contrib/deps-debian.sh --bench    also what the benchmarks use
set -e

pkgs="gcc make autoconf automake libtool pkg-config libevent-dev libbsd-dev
procps clang valgrind python3 libinih-dev libhiredis-dev redis-server
redis-tools zlib1g-dev util-linux iproute2 parallel
libncurses-dev python3-prometheus-client python3-redis systemd"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs golang-go parallel gnuplot-nox"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "installing:$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing

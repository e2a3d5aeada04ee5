#!/bin/sh
# Installs the Debian packages vpcd needs to build, run and test, when missing.
set -e
pkgs="gcc clang make cmake ninja-build pkg-config libjansson-dev libyaml-dev libpcre2-dev
      curl bind9-dnsutils python3 python3-pytest python3-requests python3-dnspython python3-yaml
      iproute2 procps util-linux libclang-rt-14-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends $missing ||
	{ $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; }

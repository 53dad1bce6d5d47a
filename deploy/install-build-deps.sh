#!/bin/sh
# Install what building ftpproxy needs, from Debian 12's own packages only.
# Idempotent; must run as root.
set -eu
if [ "$(id -u)" != 0 ]; then
    echo "install-build-deps.sh: must run as root (it uses apt-get)" >&2
    exit 1
fi
# debhelper, dpkg-dev: the Debian package (deploy/build-deb.sh), which is also
# the release build CI tests.
PKGS="g++ cmake make pkg-config libboost-dev libboost-program-options-dev libyaml-cpp-dev
      libspdlog-dev libfmt-dev libgtest-dev nlohmann-json3-dev libnftables-dev libnftnl-dev libmnl-dev libnetfilter-conntrack-dev libssl-dev clang
      libclang-rt-14-dev nftables debhelper dpkg-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

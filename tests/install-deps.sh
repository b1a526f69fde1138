#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the testbed need
# (DESIGN §3).  Only missing packages are installed; apt-get update runs first
# when something is missing.  Needs root.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev libnl-3-dev libnl-route-3-dev libnl-xfrm-3-dev libconfig-dev libcmocka-dev
  libjansson-dev libsqlite3-dev libipset-dev
  libfreediameter-dev freediameterd freediameter-extensions
  iproute2 iptables ipset tcpdump tshark kmod user-mode-linux
  openssl xxd jq procps psmisc iputils-ping
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "install-deps: need root to install packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

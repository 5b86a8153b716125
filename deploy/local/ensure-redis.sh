#!/usr/bin/env bash
# Makes sure redis-server and redis-cli exist: installs Debian's packages when
# run as root, otherwise says exactly what to install.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing redis-server and redis-tools with apt-get…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server redis-tools >/dev/null
  exit 0
fi
echo "redis-server is missing. Install it with:  sudo apt-get install -y redis-server redis-tools" >&2
exit 1

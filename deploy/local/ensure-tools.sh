#!/usr/bin/env bash
# Makes sure the programs the tests and `make run` use are installed:
# redis-server and redis-cli always; with --test also prometheus (the
# end-to-end test scrapes the binaries with it); with --ui chromium (the
# browser test of /ui/). Installs Debian's packages
# when run as root; otherwise says exactly what to install.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
if [ "${1:-}" = "--test" ]; then
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
fi
if [ "${1:-}" = "--ui" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} with apt-get…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # chromium with its recommended fonts, so screenshots render text; the
  # rest without recommends (prometheus would pull exporters).
  rest=()
  for p in "${need[@]}"; do
    if [ "$p" = chromium ]; then apt-get install -y -qq chromium >/dev/null; else rest+=("$p"); fi
  done
  [ ${#rest[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null
  # Debian's prometheus package may start a service; the tests run their own.
  if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus >/dev/null 2>&1 || true; fi
  exit 0
fi
echo "missing: ${need[*]}. Install with:  sudo apt-get install -y ${need[*]}" >&2
exit 1

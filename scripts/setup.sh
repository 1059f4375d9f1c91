#!/usr/bin/env bash
# Sets up a fresh machine for insitu: nats-server (apt-get when root with apt; otherwise a one-line
# instruction for this platform), then `npm ci` when node_modules is missing. Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[setup] %s\n' "$*"; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none)). Install it from https://nodejs.org or your package manager."
  exit 1
fi

if [ -n "${NATS_URL:-}" ]; then
  say "NATS_URL is set ($NATS_URL): using that server, not installing nats-server."
elif command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || [ -n "${NATS_SERVER_BIN:-}" ]; then
  say "nats-server: $(command -v nats-server || echo "${NATS_SERVER_BIN:-/usr/sbin/nats-server}")"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing nats-server with apt-get…"
  # `update` can fail on a mirror hiccup while the package index is still usable; try the install anyway.
  apt-get update -qq || say "apt-get update failed; trying the install with the current index"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  say "nats-server: $(command -v nats-server || echo /usr/sbin/nats-server)"
else
  case "$(uname -s)" in
    Linux)
      if command -v apt-get >/dev/null 2>&1; then hint="sudo apt-get install -y nats-server"
      elif command -v dnf >/dev/null 2>&1; then hint="download it from https://github.com/nats-io/nats-server/releases (no Fedora package), or set NATS_URL"
      elif command -v pacman >/dev/null 2>&1; then hint="sudo pacman -S nats-server"
      elif command -v apk >/dev/null 2>&1; then hint="sudo apk add nats-server"
      else hint="download it from https://github.com/nats-io/nats-server/releases"; fi ;;
    Darwin) hint="brew install nats-server" ;;
    MINGW*|MSYS*|CYGWIN*) hint="winget install nats-io.nats-server" ;;
    *) hint="download it from https://github.com/nats-io/nats-server/releases" ;;
  esac
  say "nats-server is missing and this script can only install it as root with apt-get. Run: $hint — then run this again (or set NATS_URL to a running server)."
  exit 1
fi

if [ ! -d node_modules ] || [ ! -e node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund
else
  say "node_modules present (run \`npm ci\` yourself to refresh it)"
fi
say "ready."

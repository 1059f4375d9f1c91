#!/usr/bin/env bash
# Sets up a fresh machine for insitu: nats-server (apt-get when root with apt; otherwise a one-line
# instruction for this platform), Chromium for the dashboard's browser test (apt-get when root with
# apt; otherwise a one-line hint), then `npm ci` when node_modules is missing. Safe to run again.
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
  apt_updated=1
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

# The dashboard test (test/e2e/dashboard.test.ts) drives a real headless Chromium at /usr/bin/chromium
# and fails without it; nothing else needs a browser, so a missing one is not fatal here, and
# `npm run start` (which only runs the stack) passes --no-browser to skip it.
if [ "${1:-}" = "--no-browser" ]; then
  :
elif [ -x /usr/bin/chromium ]; then
  say "chromium: /usr/bin/chromium"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing chromium with apt-get (for the dashboard's browser test)…"
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq || say "apt-get update failed; trying the install with the current index"
  fi
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    say "chromium: $(command -v chromium || echo /usr/bin/chromium)"
  else
    say "could not install chromium with apt-get; test/e2e/dashboard.test.ts will fail until /usr/bin/chromium exists."
  fi
else
  say "chromium is missing: the dashboard test (test/e2e/dashboard.test.ts) needs it at /usr/bin/chromium — run: sudo apt-get install -y chromium (Debian; elsewhere install Chromium and link it there)."
fi

# The evaluation report's PNG plots (libs/eval/src/png.ts) draw their text with DejaVu Sans; without
# a font the report is SVG only and libs/eval/src/png.test.ts fails.
if [ "${1:-}" = "--no-browser" ]; then
  :
elif [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || fc-match -f '%{file}' 'DejaVu Sans' 2>/dev/null | grep -qi dejavu; then
  say "font: DejaVu Sans"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing fonts-dejavu-core with apt-get (for the evaluation report's PNG plots)…"
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq || say "apt-get update failed; trying the install with the current index"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null \
    || say "could not install fonts-dejavu-core; evaluation plots will be SVG only and libs/eval/src/png.test.ts will fail."
else
  say "DejaVu Sans is missing: evaluation plots will be SVG only — run: sudo apt-get install -y fonts-dejavu-core"
fi

# promtool and Prometheus check the monitoring files (apps/cli/src/prometheus.int.test.ts): the
# config, the alert rules and their unit tests. Like the browser, only the tests need them.
if [ "${1:-}" = "--no-browser" ]; then
  :
elif command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  say "promtool: $(command -v promtool)"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing prometheus + promtool with apt-get (for the monitoring tests)…"
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq || say "apt-get update failed; trying the install with the current index"
    apt_updated=1
  fi
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; then
    say "promtool: $(command -v promtool || echo /usr/bin/promtool)"
  else
    say "could not install prometheus with apt-get; apps/cli/src/prometheus.int.test.ts will fail until promtool exists."
  fi
else
  say "promtool is missing: the monitoring test (apps/cli/src/prometheus.int.test.ts) needs it — run: sudo apt-get install -y --no-install-recommends prometheus (Debian; elsewhere https://prometheus.io/download)."
fi

if [ ! -d node_modules ] || [ ! -e node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund
else
  say "node_modules present (run \`npm ci\` yourself to refresh it)"
fi
say "ready."

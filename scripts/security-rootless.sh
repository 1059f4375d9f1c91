#!/usr/bin/env bash
# Runs the hostile corpus (test/security/sandbox-corpus.test.ts) as an unprivileged user — the mode
# the shipped image runs in (USER node, no cgroup delegation, no tmpfs of its own): limits fall back
# to prlimit and work dirs to disk. The corpus's expectations are the same as under root; with
# INSITU_SECURITY_ROOTLESS=1 it also asserts it really ran non-root, in prlimit mode, on disk
# (docs/adr/0135-limits-without-root.md).
#
#   scripts/security-rootless.sh             # as root: drops to $RUN_AS (default nobody)
#   RUN_AS=node scripts/security-rootless.sh # another unprivileged user
#   scripts/security-rootless.sh             # as a non-root user: runs as that user
#
# Extra arguments go to vitest (e.g. -t disk-fill to run some cases).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# vitest must not write into the (root-owned) checkout: the config is loaded through vite's module
# runner instead of a bundled temp file, the JSON report is off, and caches go to the private dir.
vitest_args=(run --configLoader runner --reporter=default --project e2e test/security/sandbox-corpus.test.ts "$@")

if [ "$(id -u)" != 0 ]; then
  exec env INSITU_SECURITY_ROOTLESS=1 npx vitest "${vitest_args[@]}"
fi

user=${RUN_AS:-nobody}
if ! id "$user" >/dev/null 2>&1; then
  echo "security-rootless: no user '$user' (set RUN_AS to an unprivileged user)" >&2
  exit 2
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
if [ "$uid" = 0 ]; then
  echo "security-rootless: '$user' is root; pick an unprivileged user" >&2
  exit 2
fi

# A private temp dir (work dirs, Deno's cache, HOME) owned by the user, removed afterwards. Like
# the shipped image (compose `tmpfs: /work:size=2g,uid=1000`, k8s `emptyDir: {medium: Memory}`), it
# is a tmpfs the sandbox did not mount itself: files are not charged to any call, only the work-dir
# quota stops a tool. ROOTLESS_TMPFS=0 keeps it on disk instead (a site whose TMPDIR is a disk;
# disk-filling calls then also slow other calls through writeback — ADR 0135).
private=$(mktemp -d /tmp/insitu-rootless-XXXXXX)
mounted=0
cleanup() {
  if [ "$mounted" = 1 ]; then umount -l "$private" || true; fi
  rm -rf "$private"
}
trap cleanup EXIT
if [ "${ROOTLESS_TMPFS:-1}" = 1 ]; then
  mount -t tmpfs -o "size=2g,mode=0700,uid=$uid,gid=$gid,nosuid,nodev" tmpfs "$private"
  mounted=1
fi
chown "$uid:$gid" "$private"
chmod 0700 "$private"

drop=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs)
if ! "${drop[@]}" test -r "$repo/package.json" -a -x "$repo/node_modules/.bin/vitest"; then
  echo "security-rootless: $user cannot read $repo (it needs read and search access to the checkout)" >&2
  exit 2
fi

echo "security-rootless: corpus as $user (uid $uid), TMPDIR=$private (tmpfs: $mounted); $(uptime)"
status=0
"${drop[@]}" env -i \
  PATH="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" \
  HOME="$private" \
  TMPDIR="$private" \
  npm_config_cache="$private/npm-cache" \
  INSITU_SECURITY_ROOTLESS=1 \
  "$repo/node_modules/.bin/vitest" "${vitest_args[@]}" || status=$?
echo "security-rootless: exit $status; $(uptime)"
exit "$status"

#!/usr/bin/env bash
# Runs a command as if on a machine with only Node.js: the Debian packages the
# tests can use (dataset-fashion-mnist, libopenblas0-pthread, libblas3,
# python3-numpy, chromium, script from bsdutils, and python3 itself) are hidden by bind-mounting
# empty directories and a non-executable empty file over them, in a private
# mount namespace, so that nothing outside this command sees a change.
# Needs root (unshare -m). Example, from a fresh clone:
#   npm install && scripts/bare-machine.sh npm test
set -euo pipefail
if [ "${BARE_MACHINE_INNER:-}" != 1 ]; then
  exec unshare -m env BARE_MACHINE_INNER=1 "$0" "$@"
fi
mount --make-rprivate /
empty=$(mktemp -d) && nofile=$(mktemp) && chmod 644 "$nofile"
for d in /usr/share/datasets /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/x86_64-linux-gnu/blas \
         /usr/lib/x86_64-linux-gnu/lapack /usr/lib/python3/dist-packages /usr/lib/chromium; do
  if [ -d "$d" ]; then mount --bind "$empty" "$d"; fi
done
for f in /usr/bin/chromium /usr/bin/python3 /usr/bin/script; do
  if [ -e "$f" ]; then mount --bind "$nofile" "$f"; fi
done
# A fresh cache and home, so that nothing verified or downloaded before is reused.
home=$(mktemp -d)
export HOME="$home/home" XDG_CACHE_HOME="$home/cache"
mkdir -p "$HOME"
unset BACKPROP_REQUIRE_SYSTEM BACKPROP_BLAS OPENBLAS_CORETYPE
exec "$@"

#!/usr/bin/env bash
# Install the Debian packages that the test suite and the benchmarks need, once.
# Idempotent: packages already present are skipped, so `make test` can call it every time.
#   etcd-server  - real etcd for key ownership tests (issue 5)
#   prometheus   - promtool + a real Prometheus scraping a live gateway (issue 8)
#   chromium     - real browser for the UI tests (issue 7)
#   nginx        - reverse proxy config test (issue 8)
#   wrk          - load generator for `make bench`
#   gcc, libc6-dev, zlib1g-dev, libssl-dev - build the outbox's native codec
#                  (src/switchyard/outbox/_codec.c: zlib's crc32, OpenSSL's SHA-256), and
#                  python3.11-dev when the interpreter in $PYTHON has no Python.h (Debian's)
# `install-system-deps.sh build` installs only the last group: `make setup` runs it before it
# installs the package (which compiles the codec), so a fresh machine needs nothing else.
set -euo pipefail
BUILD_PACKAGES=(gcc libc6-dev zlib1g-dev libssl-dev)
PYTHON="${PYTHON:-python3.11}"
if ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    BUILD_PACKAGES+=(python3.11-dev)
fi
if [ "${1:-}" = "build" ]; then
    PACKAGES=("${BUILD_PACKAGES[@]}")
else
    PACKAGES=(etcd-server etcd-client prometheus chromium nginx wrk "${BUILD_PACKAGES[@]}")
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-system-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts daemons on install; the tests start their own on free ports.
for svc in etcd prometheus nginx prometheus-node-exporter; do
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true; fi
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done

#!/usr/bin/env bash
# Installs every Debian 12 package keycache needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so re-running is cheap.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git ca-certificates curl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev postgresql-15 libhiredis-dev libsystemd-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  prometheus prometheus-redis-exporter nginx-light wrk redis-server redis-tools systemd
  clang-format iproute2 nftables
  clang-15 libfuzzer-15-dev
  chromium shellcheck docker-compose gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package post-install scripts from starting daemons (nginx, prometheus, redis):
  # the tests and benchmarks start their own instances on ephemeral ports.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ "$created_policy" -eq 1 ] && $SUDO rm -f "$policy"
fi
echo "install-deps: all packages present"

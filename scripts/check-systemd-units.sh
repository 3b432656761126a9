#!/usr/bin/env bash
# Checks deploy/systemd/: `systemd-analyze verify` on every unit, in a scratch root that holds
# systemd's own units, a stand-in /usr/local/bin/keycached and the exporter binary (verify
# insists that ExecStart= names an executable file), and `systemd-analyze security --offline`
# on keycached.service, failing when its exposure is above the limit (2.0, "OK").
# Usage: scripts/check-systemd-units.sh [--max-exposure N]   (run by CTest: systemd_units)
set -euo pipefail

max_exposure=2.0
while [ $# -gt 0 ]; do
  case "$1" in
    --max-exposure) max_exposure="${2:?--max-exposure needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "check-systemd-units: unknown argument $1" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"
units="$here/deploy/systemd"
exporter=/usr/bin/prometheus-redis-exporter
for tool in systemd-analyze "$exporter"; do
  command -v "$tool" >/dev/null || { echo "check-systemd-units: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/usr/lib" "$root/etc/systemd/system"
cp -r /usr/lib/systemd "$root/usr/lib/"
ln -s usr/lib "$root/lib"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/keycached"
chmod +x "$root/usr/local/bin/keycached"
cp "$exporter" "$root/usr/bin/"
cp "$units"/*.service "$root/etc/systemd/system/"

status=0
for unit in "$root"/etc/systemd/system/*.service; do
  name="$(basename "$unit")"
  # verify prints nothing for a clean unit; any line is a finding.
  if ! out="$(cd "$root" && systemd-analyze verify --root="$root" --man=false "$unit" 2>&1)" || [ -n "$out" ]; then
    echo "FAIL verify $name:"; echo "$out"; status=1
  else
    echo "ok   verify $name"
  fi
done

report="$(systemd-analyze security --offline=true --no-pager "$units/keycached.service" 2>&1 || true)"
exposure="$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for keycached.service: \([0-9.]*\).*/\1/p')"
if [ -z "$exposure" ]; then
  echo "FAIL security keycached.service: no exposure level in the report:"; echo "$report"; status=1
elif awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
  echo "FAIL security keycached.service: exposure $exposure > $max_exposure"
  printf '%s\n' "$report" | grep '✗' || true
  status=1
else
  echo "ok   security keycached.service: exposure $exposure (limit $max_exposure)"
fi
exit "$status"

#!/usr/bin/env bash
# Command 1 of the README: installs what is missing, builds the release preset and runs keycached
# on port 3333 with the embedded default (SQLite under ./var/, the in-process cache, no other
# server). Extra arguments are passed to `keycached serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build-release.sh --no-deps

mkdir -p var
port="${PORT:-3333}"
cat <<MSG

keycached is starting on http://${HOST:-127.0.0.1}:${port} (SQLite: ./var/keycache.db).
The admin token is in ./var/admin-token (generated on first start, mode 0600) unless ADMIN_TOKEN is set.
Try, from another terminal:
  TOKEN=\$(cat var/admin-token)
  curl -s -X POST localhost:${port}/v1/keys -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"owner_id":"alice","name":"ci","scopes":["reports:read"]}'
  curl -s localhost:${port}/v1/auth -H "X-API-Key: <the key printed above>" -H 'X-Required-Scope: reports:read' -i
Stop with Ctrl-C (usage counters are flushed on the way out).

MSG
exec ./build/release/src/app/keycached serve "$@"

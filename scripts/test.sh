#!/usr/bin/env bash
# The whole test suite: real MariaDB, real Redis, real api and worker processes (sim WhatsApp).
# Each run gets its own database and Redis key prefix, dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
# The Bull Board test drives the Debian Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
export TEST_DATABASE_SERVER_URL="${TEST_DATABASE_SERVER_URL:-mysql://root@127.0.0.1:3306}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
DATABASE_URL="$TEST_DATABASE_SERVER_URL/x" REDIS_URL="$TEST_REDIS_URL" bash scripts/ensure-services.sh
if [ "$#" -eq 0 ]; then set -- "dist/test/**/*.test.js"; fi
exec npx mocha "$@"

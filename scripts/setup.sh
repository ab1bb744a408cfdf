#!/usr/bin/env bash
# Installs everything the tests need on a bare Debian machine (as root): the real mail daemons
# and Pigeonhole tools, the npm packages, and the Pulumi engine built from Go modules (cached).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== system packages (postfix, dovecot, pigeonhole)"
sh scripts/install-mail-daemons.sh

echo "== npm packages"
npm ci --no-audit --no-fund

if [ -f scripts/build-pulumi-tools.sh ]; then
  echo "== Pulumi engine (built from Go modules, cached by version)"
  bash scripts/build-pulumi-tools.sh
fi

echo "== paperless-ngx 3.0.5 and 2.20.15 (release source + locked PyPI deps, cached by lock hash)"
bash scripts/setup-paperless.sh

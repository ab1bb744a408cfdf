#!/usr/bin/env bash
# Installs everything the tests need on a bare Debian machine (as root): the real mail daemons
# and Pigeonhole tools, the npm packages, and the Go-built servers and Pulumi tools (cached).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== docker-mailserver harness: Debian packages (Postfix, Dovecot, Pigeonhole, rsyslog, supervisord) and DMS v15.0.0/v15.1.0 sources"
bash scripts/setup-dms.sh

echo "== npm packages"
npm ci --no-audit --no-fund

echo "== Go-built tools: Pulumi CLI, language host, plugins; etcd, Kubernetes, Reloader, Vault (cached by version)"
bash scripts/build-tools.sh

echo "== test cluster (tests/support/cluster): openssl (its CA and serving certificate), util-linux (setpriv)"
missing=()
for p in openssl util-linux; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== paperless-ngx 3.0.5 and 2.20.15 (release source + locked PyPI deps, cached by lock hash)"
bash scripts/setup-paperless.sh

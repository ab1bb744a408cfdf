#!/usr/bin/env bash
# The docker-mailserver harness (tests/support/mailserver/dms-instance.sh), as root on Debian 12:
#   1. the Debian packages docker-mailserver 15's image installs for the mail path -- Postfix with
#      PCRE maps, Dovecot with IMAP, LMTP, POP3, ManageSieve and Pigeonhole, rsyslog, supervisord,
#      dumb-init, and the tools its scripts call (file, uuid, ss) -- plus ssl-cert's snakeoil pair
#      that its configuration names;
#   2. docker-mailserver's release sources of the tested tags (scripts/lib/source.sh: PMI_VENDOR_DIR
#      or GitHub, sha256/commit-checked, cached outside the clone).
# The packages' own services are never used: each test instance runs its own daemons in its own
# namespaces on its own ports. Warm (everything present): no apt, no download.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "setup-dms: $*"; }

PACKAGES=(postfix postfix-pcre dovecot-core dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-managesieved
  dovecot-sieve rsyslog supervisor dumb-init file uuid iproute2 ssl-cert)
TAGS=(v15.0.0 v15.1.0)

[ "$(id -u)" = 0 ] || { log "must run as root (apt-get; the harness itself needs namespaces)"; exit 1; }
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  # Without the preseed, postfix's debconf prompt blocks a non-interactive install.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  log "apt-get update"
  apt-get update -qq
  log "apt-get install (${#missing[@]} packages and their dependencies)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" |
    { grep -E '^(Setting up|Unpacking) ' || true; } | sed 's/^/setup-dms: /'
else
  log "Debian packages present"
fi
for tag in "${TAGS[@]}"; do
  log "docker-mailserver $tag source: $(bash scripts/lib/source.sh docker-mailserver "$tag")"
done

#!/bin/sh
# Installs the real Postfix + Dovecot (with LMTP and Pigeonhole sieve) that tests/mailpath runs.
# Debian/Ubuntu, as root. The tests start their own instances on loopback; the system services
# the packages may start are left alone (the tests use other ports and their own config).
set -eu

if command -v postfix >/dev/null && command -v dovecot >/dev/null && command -v sievec >/dev/null \
  && [ -e /usr/lib/dovecot/lmtp ] && [ -e /usr/lib/dovecot/imap ]; then
  exit 0
fi

# Without the preseed, postfix's debconf prompt blocks a non-interactive install.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve

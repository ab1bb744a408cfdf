#!/usr/bin/env bash
# One docker-mailserver "container" on this machine: docker-mailserver's own release (its
# Dockerfile's files, its supervisord, its start-mailserver.sh with every setup function, its
# change detector) on Debian 12's Postfix, Dovecot and Pigeonhole -- the packages its image
# installs -- isolated the way a container is:
#   - a PID namespace: DMS's panic (`kill -SIGTERM 1`) stops this instance's PID 1 (dumb-init ->
#     supervisord, as in the image), never this machine's init;
#   - a mount namespace whose root is an overlay of this machine's / with a tmpfs on top: every
#     file DMS writes (/etc, /usr/local/bin, /var/spool, /root/.bashrc, …) lands in that tmpfs
#     and vanishes with the instance. The host's /etc is never touched;
#   - /tmp/docker-mailserver is a fresh directory holding one read-only bind mount per config
#     file, of a copy taken at start, as subPath mounts of a ConfigMap deliver them (a running
#     pod never sees a later edit); or, with --config-volume, a writable directory whose edits
#     DMS's change detector applies, as with docker compose's config volume. /var/mail is a bind
#     mount of a directory that outlives the instance, as the mail volume outlives a pod.
#
# What of docker-mailserver does NOT run here, and why:
#   - Amavis, ClamAV, SpamAssassin, Rspamd, OpenDKIM, OpenDMARC, policyd-spf, Postgrey, Fail2Ban,
#     fetchmail/getmail, postsrsd, MTA-STS, the update check: their packages, rule or virus
#     databases, DNS or internet access are not available here. They are off in DMS's own
#     defaults except ENABLE_AMAVIS/OPENDKIM/OPENDMARC/POLICYD_SPF/UPDATE_CHECK; the harness
#     forces all of them off (FORCED_ENV below) and says so on stderr when the caller's
#     environment (e.g. a Deployment's) asked for one.
#   - cron: the program is started, but runs `sleep infinity`. Its jobs (reports, log
#     rotation, ClamAV updates) matter to no test, and a real cron here would run this
#     machine's own crontab inside every instance.
#   - TLS certificates: production's certificate is not here; the instance runs DMS's plaintext
#     mode (SSL_TYPE unset), so IMAP LOGIN works without TLS.
#   - Networking: instances share this machine's loopback, so each one listens on its own
#     ports. The harness's user-patches.sh (DMS's own hook, run last in its setup) moves
#     Postfix's port-25 service to 127.0.0.1:<smtp>, Dovecot's IMAP to 127.0.0.1:<imap> and the
#     quota-status policy service to <quota>, and removes submission/submissions/imaps. Mail
#     arrives from 127.0.0.1; PERMIT_DOCKER=container with NETWORK_INTERFACE=lo keeps it in
#     mynetworks, as without DNS postscreen's DNSBL checks and reject_unknown_sender_domain
#     would defer every message from an outside domain; local_header_rewrite_clients is emptied
#     so Postfix does not fill a missing From in from the envelope, as it does for local mail.
#   - The image build itself (Dockerfile) is not run: `image_layer` below copies the files of
#     target/ where its COPY lines put them and repeats the RUN steps that touch the mail path.
#
# Usage (root):
#   dms-instance.sh start <instance-dir> --dms <release dir> --mail-dir <dir> \
#       --smtp-port N --imap-port N --quota-port N [--config-dir <dir> | --config-volume <dir>] \
#       [--mount <host file>:<absolute container path>]… [--env NAME=VALUE]… [--timeout S]
#     Starts the instance and returns once DMS logs "is up and running" and both ports are its
#     own; exits 1 with DMS's error lines if it stops first (a panic). Every regular file of
#     --config-dir is mounted read-only at /tmp/docker-mailserver/<name>; --config-volume is
#     mounted there writable instead (the harness writes its user-patches.sh into it).
#   dms-instance.sh exec <instance-dir> -- <command> [args…]
#     Runs the command inside (its namespaces, root and environment, as root), as
#     `kubectl exec … -- <command> [args…]` does; its exit code is the command's.
#   dms-instance.sh stop <instance-dir> [--grace S]
#     SIGTERM to its PID 1 (supervisord stops every program), SIGKILL after S seconds (default
#     30, as a pod's terminationGracePeriodSeconds; 0 kills at once). Nothing is left mounted.
#   dms-instance.sh pid <instance-dir>             host pid of its PID 1; exit 1 when not running
# The instance dir keeps `console.log` (the container's output, as `kubectl logs` shows it),
# `log/mail/mail.log` (DMS's mail log), `pid`, `env` and `ports`; it survives `stop`.
set -euo pipefail

# Why each is forced: see the header.
FORCED_ENV=(ENABLE_AMAVIS=0 ENABLE_OPENDKIM=0 ENABLE_OPENDMARC=0 ENABLE_POLICYD_SPF=0 ENABLE_UPDATE_CHECK=0
  ENABLE_CLAMAV=0 ENABLE_SPAMASSASSIN=0 ENABLE_RSPAMD=0 ENABLE_RSPAMD_REDIS=0 ENABLE_POSTGREY=0 ENABLE_FAIL2BAN=0
  ENABLE_FETCHMAIL=0 ENABLE_GETMAIL=0 ENABLE_SRS=0 ENABLE_MTA_STS=0 ENABLE_SASLAUTHD=0 ENABLE_OAUTH2=0
  ACCOUNT_PROVISIONER=FILE SSL_TYPE= PERMIT_DOCKER=container NETWORK_INTERFACE=lo)
DEFAULT_ENV=(OVERRIDE_HOSTNAME=mail.dms-harness.test LOG_LEVEL=debug)
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "dms-instance: $*" >&2; exit 1; }
alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# A process's start time (field 22 of /proc/<pid>/stat, read after the command name, which may hold spaces).
start_time() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
# The instance's pid while that process runs: the start time recorded beside it tells a reused pid
# (pid_max is 32768 here, and a long test run wraps it) from ours, so stop never kills a stranger.
instance_pid() {
  local pid; pid=$(cat "$1/pid" 2>/dev/null || true)
  alive "$pid" || return 1
  [ ! -s "$1/started" ] || [ "$(start_time "$pid")" = "$(cat "$1/started")" ] || return 1
  echo "$pid"
}

# --- the image: Dockerfile steps that shape the mail path, applied to the root $1 ----------------
image_layer() {
  local root=$1 dms=$2 t=$2/target
  cp "$t"/dovecot/*.inc "$t"/dovecot/*.conf "$root/etc/dovecot/conf.d/"
  cp "$t/dovecot/dovecot-oauth2.conf.ext" "$t/dovecot/dovecot-ldap.conf.ext" "$root/etc/dovecot/"
  cp "$t/dovecot/auth-oauth2.conf.ext" "$t/dovecot/auth-ldap.conf.ext" "$root/etc/dovecot/conf.d/"
  cp "$t/postfix/main.cf" "$t/postfix/master.cf" "$root/etc/postfix/"
  local dh="$t/shared"/ffdhe4096.pem
  cp "$dh" "$root/etc/postfix/dhparams.pem"
  cp "$dh" "$root/etc/dovecot/dh.pem"
  mkdir -p "$root/etc/postfix/maps"
  cp "$t/postfix/header_checks.pcre" "$t/postfix/sender_header_filter.pcre" "$t/postfix/sender_login_maps.pcre" "$root/etc/postfix/maps/"
  : >"$root/etc/aliases"
  mkdir -p "$root/etc/supervisor/conf.d"
  cp "$t/supervisor/supervisord.conf" "$root/etc/supervisor/supervisord.conf"
  cp "$t"/supervisor/conf.d/* "$root/etc/supervisor/conf.d/"
  sed -i 's|^command=/usr/sbin/cron -f$|command=/bin/sleep infinity|' "$root/etc/supervisor/conf.d/dms-services.conf"
  mkdir -p "$root/usr/local/bin"
  cp "$t"/bin/* "$t"/scripts/*.sh "$t"/scripts/startup/*.sh "$root/usr/local/bin/"
  chmod +x "$root"/usr/local/bin/*
  cp -r "$t/scripts/helpers" "$root/usr/local/bin/helpers"
  cp -r "$t/scripts/startup/setup.d" "$root/usr/local/bin/setup.d"
  # RUN steps: the vmail user (uid 5000 "docker"), syslog's user, rsyslog writing the mail log.
  chroot "$root" useradd -u 5000 -d /home/docker -s /bin/bash docker
  chroot "$root" adduser --quiet --system syslog
  # The users of packages not installed here that supervisord's program list names (it refuses
  # the whole file otherwise); those programs are never started.
  local user
  for user in $(sed -n 's/^user=//p' "$t"/supervisor/conf.d/*.conf | sort -u); do chroot "$root" adduser --quiet --system "$user"; done
  sed -i -r -e 's|/var/log/mail|/var/log/mail/mail|g' -e 's|;auth,authpriv.none|;mail.none;mail.error;auth,authpriv.none|g' \
    -e 's/^module\(load="imklog"\)/#module(load="imklog")/' "$root/etc/rsyslog.conf"
  mkdir -p "$root/var/log/mail"
  chroot "$root" chown syslog:root /var/log/mail
  echo "${dms##*-}" >"$root/.dms-release"
}

# --- PID 1 of the new namespaces (runs as `__init <instance-dir>`) ---------------------------------
init_instance() {
  local dir=$1 layer=$1/layer root
  local dms mail_dir
  dms=$(cat "$dir/dms"); mail_dir=$(cat "$dir/mail-dir")
  # Our pid as the host sees it: the parent of this `cut`, read through the host's /proc.
  local self; self=$(cut -d' ' -f4 /proc/self/stat)
  start_time "$self" >"$dir/started"
  echo "$self" >"$dir/pid"
  mount -t tmpfs -o mode=0755 dms-layer "$layer"
  mkdir "$layer/upper" "$layer/work" "$layer/root"
  root=$layer/root
  mount -t overlay dms-root -o "lowerdir=/,upperdir=$layer/upper,workdir=$layer/work" "$root"
  mount -t proc proc "$root/proc"
  mount -t sysfs -o ro sysfs "$root/sys" 2>/dev/null || mount --rbind -o ro /sys "$root/sys"
  # A container's /dev: a few device nodes, its own /dev/shm (DMS's sockets live there) and /dev/log.
  mount -t tmpfs -o mode=0755 dms-dev "$root/dev"
  local node
  for node in null zero full random urandom tty; do touch "$root/dev/$node"; mount --bind "/dev/$node" "$root/dev/$node"; done
  mkdir "$root/dev/shm" "$root/dev/pts"
  mount -t tmpfs -o mode=1777 dms-shm "$root/dev/shm"
  ln -s /proc/self/fd "$root/dev/fd"; ln -s fd/0 "$root/dev/stdin"; ln -s fd/1 "$root/dev/stdout"; ln -s fd/2 "$root/dev/stderr"
  mount -t tmpfs -o mode=1777 dms-tmp "$root/tmp"
  mount -t tmpfs -o mode=0755 dms-run "$root/run"
  image_layer "$root" "$dms"
  # The volumes: /var/mail survives pods, the logs are kept for the test to read.
  mount --bind "$mail_dir" "$root/var/mail"
  mkdir -p "$dir/log/mail" "$dir/log/supervisor"
  mount --bind "$dir/log/mail" "$root/var/log/mail"
  mount --bind "$dir/log/supervisor" "$root/var/log/supervisor"
  if [ -s "$dir/config-volume" ]; then
    mkdir -p "$root/tmp/docker-mailserver"
    mount --bind "$(cat "$dir/config-volume")" "$root/tmp/docker-mailserver"
  else
    mkdir -p "$root/tmp/docker-mailserver"
  fi
  local src dst
  while IFS=$'\t' read -r src dst; do
    mkdir -p "$root$(dirname "$dst")"
    touch "$root$dst"
    mount --bind "$src" "$root$dst"
    mount -o remount,bind,ro "$root$dst"
  done <"$dir/mounts"
  local -a env=()
  mapfile -t env <"$dir/env"
  cd "$root"
  exec chroot "$root" /usr/bin/env -i "${env[@]}" /usr/bin/dumb-init -- /usr/bin/supervisord -c /etc/supervisor/supervisord.conf
}

# --- user-patches.sh: this harness's port moves (see the header) -----------------------------------
user_patches() {
  local smtp=$1 imap=$2 quota=$3
  cat <<EOF
#!/bin/bash
# Written by the test harness (dms-instance.sh): own ports on the shared loopback.
set -e
postconf -M "127.0.0.1:${smtp}/inet=\$(postconf -M smtp/inet | sed 's/^smtp /127.0.0.1:${smtp} /')"
postconf -MX smtp/inet submission/inet submissions/inet
# Mail comes from 127.0.0.1 here, from the internet in production: keep Postfix from treating it
# as local mail, whose missing From/Date/Message-ID headers it would fill in from the envelope.
postconf 'local_header_rewrite_clients ='
sed -i 's/port = 65265/port = ${quota}/' /etc/dovecot/conf.d/90-quota.conf
sed -i 's/inet:localhost:65265/inet:localhost:${quota}/' /etc/postfix/main.cf
cat >>/etc/dovecot/local.conf <<'CONF'
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imap}
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
EOF
}

# The Dockerfile's `ENV NAME=value` lines (supervisord's program lines expand some of them).
image_env() {
  sed -n -E 's/^ENV ([A-Z_][A-Z0-9_]*)=(.*)$/\1=\2/p' "$1/Dockerfile" |
    sed -E -e 's/^([^=]*)="(.*)"$/\1=\2/' -e "s/^DMS_RELEASE=.*/DMS_RELEASE=${1##*docker-mailserver-}/"
}

# Who listens on 127.0.0.1:<port>: "ours" (a process of the instance whose PID 1 is $2), "other"
# (a collision: the caller picked a port someone else holds), or nothing yet.
port_owner() {
  local port=$1 pid1=$2 ns p
  ns=$(readlink "/proc/$pid1/ns/pid" 2>/dev/null) || return 0
  for p in $(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    if [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ]; then echo ours; else echo other; fi
    return 0
  done
}

start() {
  local dir=$1; shift
  local dms="" mail_dir="" config_dir="" config_volume="" smtp="" imap="" quota="" timeout=120
  local -a mounts=() env=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --dms) dms=$2; shift 2 ;;
      --mail-dir) mail_dir=$2; shift 2 ;;
      --config-dir) config_dir=$2; shift 2 ;;
      --config-volume) config_volume=$2; shift 2 ;;
      --mount) mounts+=("$2"); shift 2 ;;
      --env) env+=("$2"); shift 2 ;;
      --smtp-port) smtp=$2; shift 2 ;;
      --imap-port) imap=$2; shift 2 ;;
      --quota-port) quota=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [ "$(id -u)" = 0 ] || die "must run as root (namespaces, mounts, chroot)"
  [ -f "$dms/target/scripts/start-mailserver.sh" ] || die "--dms $dms is not a docker-mailserver release (scripts/lib/source.sh docker-mailserver <tag>)"
  [ -d "$mail_dir" ] || die "--mail-dir $mail_dir is not a directory"
  [ -n "$smtp" ] && [ -n "$imap" ] && [ -n "$quota" ] || die "start needs --smtp-port, --imap-port and --quota-port"
  local missing=() f
  for f in /usr/sbin/postfix /usr/sbin/dovecot /usr/bin/sievec /usr/lib/dovecot/lmtp /usr/lib/dovecot/imap \
    /usr/lib/postfix/postfix-pcre.so /usr/bin/supervisord /usr/bin/dumb-init /usr/sbin/rsyslogd /usr/bin/uuid /usr/bin/file; do
    [ -e "$f" ] || missing+=("$f")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run scripts/setup-dms.sh"
  [ -z "$(instance_pid "$dir" 2>/dev/null || true)" ] || die "$dir is already running (pid $(cat "$dir/pid"))"

  mkdir -p "$dir/layer"
  chmod 0755 "$dir"
  rm -f "$dir/pid" "$dir/started" "$dir/console.log"
  echo "$dms" >"$dir/dms"
  echo "$mail_dir" >"$dir/mail-dir"
  printf 'smtp=%s\nimap=%s\nquota=%s\n' "$smtp" "$imap" "$quota" >"$dir/ports"
  user_patches "$smtp" "$imap" "$quota" >"$dir/user-patches.sh"
  # subPath mounts: a copy taken now, as the kubelet's; later edits of the source never reach the
  # running instance (a pod sees a changed ConfigMap only when it restarts).
  rm -rf "$dir/files" "$dir/mounts" "$dir/config-volume"
  mkdir -p "$dir/files"
  : >"$dir/mounts"
  local n=0
  file_mount() {
    n=$((n + 1))
    cp "$1" "$dir/files/$n-${1##*/}"
    printf '%s\t%s\n' "$dir/files/$n-${1##*/}" "$2" >>"$dir/mounts"
  }
  [ -z "$config_dir" ] || [ -z "$config_volume" ] || die "--config-dir and --config-volume exclude each other"
  if [ -n "$config_dir" ]; then
    [ -d "$config_dir" ] || die "--config-dir $config_dir is not a directory"
    [ ! -e "$config_dir/user-patches.sh" ] || die "$config_dir/user-patches.sh: the harness needs that hook for its ports"
    for f in "$config_dir"/* "$config_dir"/.[!.]*; do
      [ -f "$f" ] && file_mount "$f" "/tmp/docker-mailserver/${f##*/}"
    done
  fi
  if [ -n "$config_volume" ]; then
    # A writable config volume (docker compose's ./config): edits reach DMS's change detector.
    [ -d "$config_volume" ] || die "--config-volume $config_volume is not a directory"
    if [ -e "$config_volume/user-patches.sh" ] && ! grep -q 'Written by the test harness' "$config_volume/user-patches.sh"; then
      die "$config_volume/user-patches.sh: the harness needs that hook for its ports"
    fi
    cp "$dir/user-patches.sh" "$config_volume/user-patches.sh"
    realpath "$config_volume" >"$dir/config-volume"
  else
    file_mount "$dir/user-patches.sh" /tmp/docker-mailserver/user-patches.sh
  fi
  local m
  for m in "${mounts[@]}"; do
    [ -f "${m%%:*}" ] && [ "${m#*:}" != "$m" ] && [ "${m#*:/}" != "${m#*:}" ] || die "--mount $m: want <existing host file>:<absolute container path>"
    file_mount "${m%%:*}" "${m#*:}"
  done
  local forced name
  for forced in "${FORCED_ENV[@]}"; do
    name=${forced%%=*}
    for f in "${env[@]}"; do
      [ "${f%%=*}" != "$name" ] || [ "$f" = "$forced" ] || echo "dms-instance: $f cannot run here; the instance runs with $forced" >&2
    done
  done
  # Container environment: the image's ENV lines, harness defaults, the caller's, then what cannot run here.
  { echo "PATH=$IMAGE_PATH"; echo "HOME=/root"
    image_env "$dms"
    printf '%s\n' "${DEFAULT_ENV[@]}" "${env[@]}" "${FORCED_ENV[@]}"; } |
    tac | awk -F= '!seen[$1]++' | tac >"$dir/env"

  setsid unshare --mount --pid --fork --propagation private -- "$0" __init "$dir" </dev/null >"$dir/console.log" 2>&1 &
  local deadline=$((SECONDS + timeout)) next=$((SECONDS + 30)) pid=""
  local had_pid
  while :; do
    # The pid file first: __init writes it at any moment, and one written between reading the
    # process and reading the file would look like an instance that stopped.
    had_pid=""; [ ! -s "$dir/pid" ] || had_pid=1
    pid=$(instance_pid "$dir" || true)
    if [ -n "$pid" ]; then
      local smtp_owner imap_owner
      smtp_owner=$(port_owner "$smtp" "$pid"); imap_owner=$(port_owner "$imap" "$pid")
      if [ "$smtp_owner" = other ] || [ "$imap_owner" = other ]; then
        echo "dms-instance: port $smtp or $imap is held by another process; choose free ports" >&2
        stop "$dir" 0 >/dev/null 2>&1 || true
        return 1
      fi
      if [ "$smtp_owner" = ours ] && [ "$imap_owner" = ours ] && grep -q 'is up and running' "$dir/console.log" 2>/dev/null; then
        echo "$pid"; return 0
      fi
    fi
    if [ -n "$had_pid" ] && [ -z "$pid" ]; then
      echo "dms-instance: docker-mailserver stopped during start-up ($dir/console.log):" >&2
      grep -E 'ERROR|panic|Shutting down|misconfigured' "$dir/console.log" >&2 || tail -n 30 "$dir/console.log" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "dms-instance: not up after ${timeout}s; last lines of $dir/console.log:" >&2
      tail -n 30 "$dir/console.log" >&2
      stop "$dir" 0 >/dev/null 2>&1 || true
      return 1
    fi
    if [ $SECONDS -ge $next ]; then echo "dms-instance: still starting ($((SECONDS + timeout - deadline))s)" >&2; next=$((SECONDS + 30)); fi
    sleep 0.1
  done
}

# argv in the instance's namespaces and root, with the container's environment, as root.
exec_in() {
  local dir=$1 pid; shift
  pid=$(instance_pid "$dir") || die "$dir is not running"
  local -a env=()
  mapfile -t env <"$dir/env"
  exec nsenter --target "$pid" --mount --pid --root --wd -- /usr/bin/env -i "${env[@]}" "$@"
}

# SIGTERM to PID 1 (dumb-init -> supervisord stops every program), SIGKILL after the grace period.
# Killing a PID namespace's init kills every process in it.
stop() {
  local dir=$1 grace=$2 pid i
  pid=$(instance_pid "$dir") || return 0
  [ "$grace" = 0 ] || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do alive "$pid" || return 0; sleep 0.1; done
  die "pid $pid survived SIGKILL"
}

cmd=${1:-}; [ $# -ge 2 ] || die "usage: dms-instance.sh start|exec|stop|pid <instance-dir> …"
dir=$(realpath -m "$2"); shift 2
case "$cmd" in
  start) start "$dir" "$@" ;;
  exec) [ "${1:-}" = -- ] && [ $# -ge 2 ] || die "usage: dms-instance.sh exec <instance-dir> -- <command> [args…]"; shift; exec_in "$dir" "$@" ;;
  stop)
    grace=30
    if [ "${1:-}" = --grace ]; then grace=${2:?}; fi
    [[ $grace =~ ^[0-9]+$ ]] || die "--grace wants whole seconds"
    stop "$dir" "$grace" ;;
  pid) instance_pid "$dir" || exit 1 ;;
  __init) init_instance "$dir" ;;
  *) die "unknown command $cmd" ;;
esac

#!/usr/bin/env bash
# Installs the real paperless-ngx servers the tests start (tests/support/paperless/), cached
# outside the clone:
#
#   ${PMI_CACHE:-$HOME/.cache/paperless-mail-ingest}/
#     uv-<version>/bin/uv                         uv, from PyPI
#     paperless-ngx-<version>-<key>/              one per paperless version; <key> hashes its inputs
#       src -> ../src/paperless-ngx-v<version>    the release source (scripts/lib/source.sh)
#       venv/                                     the locked dependencies (uv.lock), minus the ML extras
#       template/data/db.sqlite3                  a migrated database: a test server starts from a copy
#
# Usage: setup-paperless.sh [3.0.5|2.20.15 …]      (default: both)
#        setup-paperless.sh --check <version>      builds nothing; prints the install dir if complete
# The install dir is the last line on stdout per version; progress goes to stderr, at least every 30 s.
#
# Left out of the venv: torch, transformers, sentence-transformers, llama-index-embeddings-huggingface.
# They serve only paperless's AI features (document embeddings, LLM suggestions), never the REST API,
# the mail fetcher or the consumption of a text document; torch is also a `+cpu` build from a
# non-PyPI index and several GB. Everything else is installed exactly as locked, without resolving.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

UV_VERSION=0.13.9
VERSIONS=(3.0.5 2.20.15)
ML_EXTRAS='^(torch|transformers|sentence-transformers|llama-index-embeddings-huggingface)=='
# Debian packages: libmagic (python-magic sniffs attachments), the thumbnail font (manage.sh),
# Redis (the broker of a test server started with `redis: true`, as in production), and what
# paperless-ngx 3.x needs to consume a PDF with a text layer without OCR: pdftotext for its text,
# Ghostscript for its thumbnail (the doctor's canary mails one).
DEBIAN_PACKAGES=(libmagic1 fonts-liberation redis-server poppler-utils ghostscript)

cache=${PMI_CACHE:-$HOME/.cache/paperless-mail-ingest}
log() { echo "setup-paperless: $*" >&2; }

# Runs a command, printing a progress line every 20 s while it runs; its output goes to a log
# that is shown only if it fails.
step() {
  local what=$1; shift
  local out; out=$(mktemp)
  local start=$SECONDS
  log "$what"
  "$@" >"$out" 2>&1 &
  local pid=$!
  while ! wait_for "$pid" 20; do log "… $what ($((SECONDS - start)) s)"; done
  if ! wait "$pid"; then log "$what failed:"; tail -n 40 "$out" >&2; rm -f "$out"; return 1; fi
  rm -f "$out"
  log "$what: done in $((SECONDS - start)) s"
}
# True once pid has exited, false after `seconds` while it still runs.
wait_for() {
  local i
  for ((i = 0; i < $2 * 2; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
  return 1
}

python() {
  # paperless 3.x needs Python ≥ 3.11 (pyproject.toml), 2.20 ≥ 3.10.
  command -v python3 >/dev/null || { log "python3 not found (paperless-ngx needs Python 3.11+)"; exit 1; }
  python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version; print(sys.executable)' ||
    { log "python3 is $(python3 --version 2>&1); paperless-ngx 3.x needs 3.11 or later"; exit 1; }
}

src_dir() { echo "$cache/src/paperless-ngx-v$1"; }

# The install dir of a version: keyed by everything the venv and the template depend on.
install_dir() {
  local version=$1 src; src=$(src_dir "$version")
  local key; key=$( (cat "$src/uv.lock"; echo "$ML_EXTRAS $UV_VERSION"; "$(python)" --version
    cat "$root/tests/support/paperless/pmi_test_settings.py") | sha256sum | cut -c1-16)
  echo "$cache/paperless-ngx-$version-$key"
}

known_version() {
  local v
  for v in "${VERSIONS[@]}"; do [ "$v" = "$1" ] && return 0; done
  log "unknown paperless-ngx version $1 (known: ${VERSIONS[*]})"; exit 2
}

if [ "${1:-}" = "--check" ]; then
  version=${2:?usage: setup-paperless.sh --check <version>}
  known_version "$version"
  [ -f "$(src_dir "$version")/.complete" ] || { log "the source of paperless-ngx $version is not unpacked: run bash scripts/setup-paperless.sh"; exit 1; }
  dir=$(install_dir "$version")
  [ -f "$dir/.complete" ] || { log "paperless-ngx $version is not installed (no $dir): run bash scripts/setup-paperless.sh"; exit 1; }
  echo "$dir"
  exit 0
fi

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("${VERSIONS[@]}")
for v in "${versions[@]}"; do known_version "$v"; done

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get update" apt-get update -qq
  step "installing ${missing[*]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

uv=$cache/uv-$UV_VERSION/bin/uv
if [ ! -x "$uv" ]; then
  rm -rf "$cache/uv-$UV_VERSION"
  step "uv $UV_VERSION from PyPI" sh -c "'$(python)' -m venv '$cache/uv-$UV_VERSION' &&
    '$cache/uv-$UV_VERSION/bin/pip' install -q --disable-pip-version-check 'uv==$UV_VERSION'"
fi

for version in "${versions[@]}"; do
  bash scripts/lib/source.sh paperless-ngx "v$version" >/dev/null
  src=$(src_dir "$version")
  dir=$(install_dir "$version")
  if [ -f "$dir/.complete" ]; then log "paperless-ngx $version: cached at $dir"; echo "$dir"; continue; fi

  rm -rf "$dir"
  tmp=$dir.partial
  rm -rf "$tmp"
  mkdir -p "$tmp"
  ln -s "$src" "$tmp/src"
  # The lock as a requirements list (no resolution, no network), minus the ML extras above.
  "$uv" export --quiet --frozen --no-dev --no-hashes --no-emit-project --no-header --project "$src" \
    | grep -vE "$ML_EXTRAS" >"$tmp/requirements.txt"
  step "paperless-ngx $version: venv" "$uv" venv --quiet --python "$(python)" "$tmp/venv"
  # Locked versions as they are, so --no-deps: what the lock pins is complete.
  step "paperless-ngx $version: $(grep -c "^[A-Za-z0-9]" "$tmp/requirements.txt") locked packages from PyPI" \
    env UV_CACHE_DIR="$cache/uv-cache" "$uv" pip install --quiet --no-deps --python "$tmp/venv/bin/python" -r "$tmp/requirements.txt"
  # manage.sh runs from $tmp: the final path is only in the database's file paths, which are relative.
  step "paperless-ngx $version: migrating the template database" \
    bash tests/support/paperless/manage.sh "$tmp" "$tmp/template" migrate --no-input
  rm -rf "$tmp/template/data/log" "$tmp/template/media" "$tmp/template/consume" "$tmp/template/static" "$tmp/template/nltk"
  touch "$tmp/.complete"
  mv "$tmp" "$dir"
  log "paperless-ngx $version: installed at $dir"
  echo "$dir"
done

#!/usr/bin/env bash
# Unpacks the release source of one pinned upstream tag (scripts/sources.lock) into the cache and
# prints its directory. Usage: source.sh <name> <tag>
#
# Where it comes from:
#   PMI_VENDOR_DIR set    $PMI_VENDOR_DIR/<name>-<tag>.tar.gz, checked against the lock's sha256
#                         (machines without GitHub access, as CI's: .ci/run sets it)
#   otherwise             GitHub's archive of the tag, checked against the lock's commit (the id
#                         `git archive` writes into every tarball it makes)
# Cached at ${PMI_CACHE:-$HOME/.cache/paperless-mail-ingest}/src/<name>-<tag>/; a second run only
# prints the path. Progress goes to stderr, the directory is the last line on stdout.
set -euo pipefail
name=${1:?usage: source.sh <name> <tag>}; tag=${2:?usage: source.sh <name> <tag>}
here=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "source: $*" >&2; }

read -r _ repo _ commit sha < <(awk -v n="$name" -v t="$tag" '$1 == n && $3 == t' "$here/sources.lock") ||
  { log "$name $tag is not pinned in scripts/sources.lock"; exit 1; }
cache=${PMI_CACHE:-$HOME/.cache/paperless-mail-ingest}/src
dir=$cache/$name-$tag
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.$name-$tag.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -n "${PMI_VENDOR_DIR:-}" ]; then
  archive=$PMI_VENDOR_DIR/$name-$tag.tar.gz
  [ -f "$archive" ] || { log "PMI_VENDOR_DIR is set but $archive does not exist"; exit 1; }
  got=$(sha256sum "$archive" | cut -d' ' -f1)
  [ "$got" = "$sha" ] || { log "$archive: sha256 $got, expected $sha (scripts/sources.lock)"; exit 1; }
  log "$name $tag from $archive"
else
  archive=$tmp/archive.tar.gz
  url=https://codeload.github.com/$repo/tar.gz/refs/tags/$tag
  log "downloading $url"
  curl -fsSL --retry 3 -o "$archive" "$url" ||
    { log "download of $url failed; on a machine without GitHub access set PMI_VENDOR_DIR to a directory holding $name-$tag.tar.gz"; exit 1; }
  got=$(gzip -dc "$archive" | git get-tar-commit-id 2>/dev/null || true)
  [ "$got" = "$commit" ] || { log "$url is commit ${got:-unknown}, expected $commit (scripts/sources.lock)"; exit 1; }
fi
mkdir -p "$tmp/src"
tar -xzf "$archive" -C "$tmp/src" --strip-components=1
rm -rf "$dir"
mv "$tmp/src" "$dir"
touch "$dir/.complete"
echo "$dir"

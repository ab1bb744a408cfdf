#!/usr/bin/env bash
# Builds the Pulumi engine the E2E test drives (tests/e2e/), from Go modules with the machine's
# Go toolchain and the Go module proxy, and caches it outside the clone, keyed by version:
#
#   ${PULUMI_TOOLS_CACHE:-$HOME/.cache/paperless-mail-ingest}/pulumi-<version>/bin/
#     pulumi                          the CLI (engine), github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
#     pulumi-resource-pulumi-nodejs   the dynamic-provider launcher shipped in @pulumi/pulumi
#
# The version comes from tools/pulumi-cli/go.mod (the one place it is pinned). A second run with
# the same inputs rebuilds nothing. The bin dir is the last line on stdout; progress goes to stderr.
# `--check` builds nothing: it prints the bin dir when the cache is complete and up to date, and
# fails otherwise (the E2E test uses it to find the tools).
#
# Why the wrapper module: `go install github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@vX` is refused
# because pkg/go.mod has replace directives; as a dependency of tools/pulumi-cli those are ignored,
# and the ones the build needs are copied into the wrapper's go.mod.
#
# Version: @pulumi/pulumi is 3.270.0, but the module proxy serves no pkg/v3 zip for v3.270.0 to
# v3.274.0 (403 "This module version is not available"); v3.274.1 is the nearest it serves, and a
# newer CLI runs an older Node SDK.
#
# No Node language host is built: github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
# is not served at all (403 on @v/list and on every pseudo-version), and the E2E does not need it:
# it runs its program inline through the Automation API, whose in-process language server the CLI
# reaches with `--client`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
wrapper=$root/tools/pulumi-cli

log() { echo "build-pulumi-tools: $*" >&2; }

version=$(grep -oE 'github\.com/pulumi/pulumi/pkg/v3 v[0-9][^ ]*' "$wrapper/go.mod" | head -1 | cut -d' ' -f2)
[ -n "$version" ] || { log "no github.com/pulumi/pulumi/pkg/v3 requirement in $wrapper/go.mod"; exit 1; }

launcher=$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
[ -f "$launcher" ] || { log "$launcher is missing: run \`npm ci\` first"; exit 1; }

cache=${PULUMI_TOOLS_CACHE:-$HOME/.cache/paperless-mail-ingest}/pulumi-$version
bin=$cache/bin
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
# Everything the outputs depend on (not this script's prose); a change to any of them rebuilds.
stamp=$( (cat "$wrapper/go.mod" "$wrapper/go.sum" "$launcher"; echo "$ldflags") | sha256sum | cut -d' ' -f1)

if [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-resource-pulumi-nodejs" ] &&
   [ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ] &&
   [ "$("$bin/pulumi" version 2>/dev/null)" = "$version" ]; then
  log "cached: $bin (pulumi $version)"
  echo "$bin"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  log "no up-to-date pulumi $version in $bin; build it with: bash scripts/build-pulumi-tools.sh"
  exit 1
fi

command -v go >/dev/null || { log "the Go toolchain (go) is not on PATH"; exit 1; }
mkdir -p "$bin"
rm -f "$cache/stamp"
start=$(date +%s)
log "building pulumi $version with $(go version | cut -d' ' -f3) (cold: ~5 min on 2 cores)"
# -mod=readonly: go.mod/go.sum are committed and must already be complete; never rewritten here.
(cd "$wrapper" && go build -mod=readonly -o "$bin/pulumi.tmp" -ldflags "$ldflags" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
mv "$bin/pulumi.tmp" "$bin/pulumi"
install -m 0755 "$launcher" "$bin/pulumi-resource-pulumi-nodejs"

built=$("$bin/pulumi" version)
[ "$built" = "$version" ] || { log "built CLI reports version $built, expected $version"; exit 1; }
echo "$stamp" > "$cache/stamp"
log "built $bin in $(( $(date +%s) - start ))s"
echo "$bin"

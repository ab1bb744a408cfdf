#!/usr/bin/env bash
# Builds every binary the real-server tests run — the Pulumi CLI, the Node language host, the
# kubernetes/command/vault provider plugins, etcd, kube-apiserver, kube-controller-manager,
# kubectl, Reloader and Vault — from the Go module proxy and the pinned upstream sources
# (scripts/sources.lock, through scripts/lib/source.sh), each cached by version outside the clone:
#
#   ${PMI_CACHE:-$HOME/.cache/paperless-mail-ingest}/<tool>-<version>/
#     bin/        its binaries
#     stamp       hash of what they are built from (its recipe below, tools/<dir>/, the pin)
#     build.log   the output of its last build (the tail is shown when it fails)
#
# Usage:
#   build-tools.sh [TOOL...]   builds the tools (default: all) whose stamp changed; the last
#                              stdout line is the bin dir (as --bin-dir prints it)
#   build-tools.sh --bin-dir   builds nothing: the last stdout line is one directory holding every
#                              binary (symlinks into the caches above); fails naming each missing
#                              or outdated tool and the command that builds it
# Progress goes to stderr: a line per tool and step, and at least every 30 s while one runs.
#
# Every build uses the same Go module and build cache (`go env GOMODCACHE GOCACHE`) and the same
# flags (go_build), so a package two tools share at one version compiles once. The go.mod/go.sum
# under tools/ are committed and used with -mod=readonly: a build never rewrites them.
# PMI_BUILD_JOBS (default 2) tools build at once: one go build leaves a core idle while it links
# or compiles a single large package. TOOLS is in order of need, arranged so that the two builds
# running side by side share few packages (which would otherwise compile twice at the same time).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${PMI_CACHE:-$HOME/.cache/paperless-mail-ingest}
sdk=$root/node_modules/@pulumi/pulumi
TOOLS=(pulumi-launchers pulumi etcd kubernetes pulumi-language-nodejs vault reloader
  pulumi-resource-kubernetes pulumi-resource-command pulumi-resource-vault)

exec 3>&2   # progress; a recipe's own output goes to its build.log
say() { echo "build-tools: $*" >&3; }

# Sets, for tool $1: version, bins (its binaries), inputs (paths in the clone they are built
# from) and pin ("<name> <tag>" in scripts/sources.lock, for tools built from a release source).
describe() {
  pin='' inputs=''
  case $1 in
    pulumi-launchers)   # the plugin launchers @pulumi/pulumi ships, e.g. pulumi-resource-pulumi-nodejs
      [ -f "$sdk/package.json" ] || { version=; bins=; return; }
      version=v$(node -p "require('$sdk/package.json').version")
      bins=$(for f in "$sdk"/pulumi-*; do [[ $f == *.cmd ]] || echo "${f##*/}"; done | paste -sd' ')
      inputs=$(for b in $bins; do echo "node_modules/@pulumi/pulumi/$b"; done) ;;
    pulumi)
      version=$(required tools/pulumi-cli github.com/pulumi/pulumi/pkg/v3); bins=pulumi; inputs=tools/pulumi-cli ;;
    pulumi-language-nodejs)
      version=v3.259.0; bins=$1; inputs=tools/$1; pin="$1 $version" ;;
    etcd)
      version=$(required tools/etcd go.etcd.io/etcd/server/v3); bins=etcd; inputs=tools/etcd ;;
    kubernetes)
      version=$(required tools/kubernetes k8s.io/kubernetes); inputs=tools/kubernetes
      bins="kube-apiserver kube-controller-manager kubectl" ;;
    vault)
      version=$(required tools/vault github.com/hashicorp/vault); bins=vault; inputs=tools/vault ;;
    reloader)
      version=v1.4.21; bins=reloader; inputs=tools/reloader; pin="reloader $version" ;;
    pulumi-resource-kubernetes)   # the served pseudo-version in tools/ is this tag's commit
      version=v4.25.0; bins=$1; inputs=tools/$1 ;;
    pulumi-resource-command)      # upstream's own go.mod/go.sum build it as they are
      version=v1.2.1; bins=$1; pin="pulumi-command $version" ;;
    pulumi-resource-vault)
      version=v7.10.0; bins=$1; inputs=tools/$1; pin="pulumi-vault $version" ;;
    *) say "unknown tool $1 (tools: ${TOOLS[*]})"; exit 2 ;;
  esac
}

# The version of module $2 that the wrapper module in $1 requires.
required() { awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { print $NF == "indirect" ? $(NF-2) : $NF; exit }' "$root/$1/go.mod"; }

# Everything tool $1's binaries depend on (after describe), as one hash.
stamp_of() {
  { echo "$1 $version $bins"
    declare -f go_build "recipe_${1//-/_}"
    [ -z "$pin" ] || awk -v n="${pin% *}" -v t="${pin#* }" '$1 == n && $3 == t' "$root/scripts/sources.lock"
    # shellcheck disable=SC2086 # a list of paths without spaces
    [ -z "$inputs" ] || (cd "$root" && find $inputs -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-64
}

# True when tool $1 (after describe) is built from its current inputs; sets dir.
is_fresh() {
  dir=$cache/$1-$version
  [ -n "$version" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$(stamp_of "$1")" ] || return 1
  local b; for b in $bins; do [ -x "$dir/bin/$b" ] || return 1; done
}

# The one set of go flags (part of every stamp): -s -w drop the symbol tables (smaller binaries,
# faster links); $2 adds version stamps. Usage: go_build OUT LDFLAGS PACKAGE...
go_build() {
  local out=$1 ldflags=$2; shift 2
  go build -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w $ldflags" -o "$out" "$@"
}

# step WHAT CMD...: runs CMD with its output in the build log, and says how long it has been
# running at least every 30 s. The ticker's sleep holds neither the progress fd nor the lock.
step() {
  local what=$1 started; started=$(date +%s); shift
  say "$tool: $what"
  ( while sleep 20 >/dev/null 2>&1 3>&- 9>&-; do
      say "$tool: $what ($(( $(date +%s) - started )) s)"; done ) &
  local ticker=$! rc=0
  "$@" >>"$log" 2>&1 3>&- || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  return "$rc"
}

# The unpacked release source of the tool's pin (from $PMI_VENDOR_DIR or GitHub).
source_dir() { step "source $pin" bash "$root/scripts/lib/source.sh" "${pin% *}" "${pin#* }" && tail -n 1 "$log"; }

# The module cache directory of module@version $1, downloaded if needed (outside any module).
module_dir() { (cd / && go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }

# runs_as WANT CMD...: the built binary runs and reports the version it was built as.
runs_as() {
  local want=$1 got; shift
  got=$("$@" 2>&1) || true
  case $got in *"$want"*) echo "$* -> $got" ;; *) echo "$* printed '$got', expected '$want'"; return 1 ;; esac
}

# Recipes: run with set -e in a subshell, output to $log; build into $out, scratch space in $build.
recipe_pulumi_launchers() {
  local b; for b in $bins; do install -m 0755 "$sdk/$b" "$out/$b"; done
}

recipe_pulumi() {
  cd "$root/tools/pulumi-cli"
  step "go build pulumi" go_build "$out/pulumi" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  runs_as "$version" "$out/pulumi" version
}

recipe_pulumi_language_nodejs() {
  local src; src=$(source_dir)
  # The vendored archive holds the five Go files; GitHub's archive of pulumi/pulumi, the repository.
  [ -f "$src/main.go" ] || src=$src/sdk/nodejs/cmd/pulumi-language-nodejs
  cp "$src"/*.go "$root/tools/$tool"/go.* "$build/"
  cd "$build"
  step "go build pulumi-language-nodejs" go_build "$out/pulumi-language-nodejs" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" .
}

recipe_etcd() {
  cd "$root/tools/etcd"
  step "go build etcd" go_build "$out/etcd" "" go.etcd.io/etcd/server/v3
  runs_as "etcd Version: ${version#v}" "$out/etcd" --version
}

recipe_kubernetes() {
  cd "$root/tools/kubernetes"
  # The version hack/lib/version.sh stamps: without it clients cannot parse /version.
  local ld="" p minor; minor=$(echo "$version" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  # One go build for the three: shared packages compile once, and they link side by side.
  step "go build $bins" go_build "$out/" "$ld" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
  runs_as "Kubernetes $version" "$out/kube-apiserver" --version
  runs_as "Client Version: $version" "$out/kubectl" version --client
}

recipe_vault() {
  # v1.21.4 builds against its own ./sdk, which matches no published vault/sdk: it has the
  # 2-argument framework.Backend.ActivationFunc of sdk <= v0.20.0 and the (string, error)
  # keysutil.LockManager.RestorePolicy of sdk >= v0.24.0. sdk-patched (go.mod replaces ./sdk with
  # it) is sdk v0.21.0 with both: v0.24.0's lock_manager.go differs from v0.21.0's in that only.
  local old new
  old=$(module_dir github.com/hashicorp/vault/sdk@v0.21.0); new=$(module_dir github.com/hashicorp/vault/sdk@v0.24.0)
  cp -r "$old" "$build/sdk-patched"; chmod -R u+w "$build/sdk-patched"
  sed -i 's|ActivationFunc func(context.Context, \*logical.Request, string) error|ActivationFunc func(context.Context, *logical.Request) error|' \
    "$build/sdk-patched/framework/backend.go"
  grep -q 'ActivationFunc func(context.Context, \*logical.Request) error' "$build/sdk-patched/framework/backend.go"
  install -m 0644 "$new/helper/keysutil/lock_manager.go" "$build/sdk-patched/helper/keysutil/lock_manager.go"
  cp "$root/tools/vault"/go.* "$build/"
  cd "$build"
  # -tags minimal: upstream's core-only flavour (its Makefile's BUILD_MINIMAL): KV, tokens, policies,
  # approle/userpass/cert/jwt auth, pki/ssh/transit, inmem/raft/file storage — what the tests use —
  # without the cloud plugins and storage backends, which cost three quarters of the build.
  step "go build vault" go_build "$out/vault" "" -tags minimal github.com/hashicorp/vault
  runs_as "Vault $version" "$out/vault" version
}

recipe_reloader() {
  local src; src=$(source_dir)
  cp -r "$src/." "$build/"; cp "$root/tools/reloader"/go.* "$build/"
  # Its metrics/health listener is hard-coded to ":9090" (every interface, one fixed port): an
  # ephemeral loopback port instead, so test clusters side by side never collide.
  local constants=$build/internal/pkg/constants/constants.go
  sed -i 's|DefaultHttpListenAddr = ":9090"|DefaultHttpListenAddr = "127.0.0.1:0"|' "$constants"
  grep -q 'DefaultHttpListenAddr = "127.0.0.1:0"' "$constants"
  cd "$build"
  step "go build reloader" go_build "$out/reloader" "-X github.com/stakater/Reloader/pkg/common.Version=${version#v}" .
}

recipe_pulumi_resource_kubernetes() {
  cp "$root/tools/$tool"/* "$build/"
  cd "$build"
  # Upstream main embeds schema-embed.json, made by its generate.go from files the module zip has.
  local mod cmd=cmd/pulumi-resource-kubernetes f
  mod=$(go mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$cmd"
  for f in main.go generate.go schema.json terraform-mapping.json; do install -m 0644 "$mod/$cmd/$f" "$cmd/$f"; done
  (cd "$cmd" && step "schema-embed.json (upstream generate.go)" \
    env VERSION="${version#v}" go run -mod=readonly -trimpath generate.go)
  step "go build pulumi-resource-kubernetes" go_build "$out/pulumi-resource-kubernetes" \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${version#v}" "./$cmd"
}

recipe_pulumi_resource_command() {
  local src; src=$(source_dir)
  cd "$src/provider"
  step "go build pulumi-resource-command" go_build "$out/pulumi-resource-command" \
    "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=${version#v}" ./cmd/pulumi-resource-command
}

recipe_pulumi_resource_vault() {
  local src; src=$(source_dir)
  cp -r "$src/provider/." "$build/"; cp -r "$root/tools/$tool/." "$build/"   # our go.mod, go.sum, stub/
  cd "$build"
  local ld="-X github.com/pulumi/pulumi-vault/provider/v7/pkg/version.Version=${version#v}" cmd=cmd/pulumi-resource-vault
  # The release source has no schema.json: pulumi-tfgen-vault makes it, upstream generate.go embeds it.
  step "go build pulumi-tfgen-vault" go_build "$build/tfgen/pulumi-tfgen-vault" "$ld" ./cmd/pulumi-tfgen-vault
  step "schema.json (pulumi-tfgen-vault schema)" "$build/tfgen/pulumi-tfgen-vault" schema --out "$cmd"
  (cd "$cmd" && step "schema-embed.json (upstream generate.go)" \
    env VERSION="${version#v}" go run -mod=readonly -trimpath generate.go)
  step "go build pulumi-resource-vault" go_build "$out/pulumi-resource-vault" "$ld" "./$cmd"
}

# CPU seconds the finished children of process $1 have used: with the wall time, it says how much
# of a build was waiting for a core (this machine may be shared) and what it costs on an idle one.
children_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($16 + $17) / hz }' "/proc/$1/stat"; }

# Builds tool $1 unless it is fresh; one build of a tool at a time (a lock per tool dir).
build_tool() {
  tool=$1
  describe "$tool"
  [ -n "$version" ] || { say "$tool: node_modules/@pulumi/pulumi is missing: run \`npm ci\` first"; return 1; }
  local started; started=$(date +%s)
  dir=$cache/$tool-$version
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock -n 9 || { say "$tool: waiting for another build of it"; flock 9; }
  if is_fresh "$tool"; then say "$tool $version: cached"; return 0; fi
  rm -rf "$dir/stamp" "$dir/build" "$dir/bin.new"; mkdir -p "$dir/build" "$dir/bin.new"
  log=$dir/build.log out=$dir/bin.new build=$dir/build
  : >"$log"
  local me=$BASHPID cpu; cpu=$(children_cpu "$me")
  # In the background: `set -e` holds inside it (it would not in an if or || list).
  ( set -e; "recipe_${tool//-/_}" ) >>"$log" 2>&1 &
  if wait $!; then
    rm -rf "${dir:?}/bin" "$build"; mv "$out" "$dir/bin"
    stamp_of "$tool" >"$dir/stamp"
    say "$tool $version: built in $(( $(date +%s) - started )) s, cpu $(( $(children_cpu "$me") - cpu )) s ($bins)"
  else
    say "$tool $version: FAILED after $(( $(date +%s) - started )) s; the end of $log:"
    tail -n 30 "$log" | sed 's/^/    /' >&3
    return 1
  fi
}

# Prints the bin dir when every tool is fresh: symlinks to each binary, in a directory named after
# that set (so clones pinned differently never share one). Otherwise names what to build, fails.
bin_dir() {
  local t missing=() links=""
  for t in "${TOOLS[@]}"; do
    describe "$t"
    if is_fresh "$t"; then
      for b in $bins; do links+="$dir/bin/$b"$'\n'; done
    else
      missing+=("$t")
      say "not built or out of date: $t${version:+ $version}${bins:+ ($bins)}"
    fi
  done
  if ((${#missing[@]})); then
    say "build them with: bash scripts/build-tools.sh ${missing[*]}"
    say "(every tool from cold: about 40 min on 2 cores; cached after, by version)"
    return 1
  fi
  local d; d=$cache/tools-$(printf %s "$links" | sha256sum | cut -c1-12)
  if [ ! -d "$d/bin" ]; then
    local tmp; tmp=$(mktemp -d "$cache/.tools.XXXXXX")
    mkdir "$tmp/bin"
    printf %s "$links" | while read -r f; do ln -s "$f" "$tmp/bin/"; done
    chmod 755 "$tmp"
    mv -T "$tmp" "$d" 2>/dev/null || rm -rf "$tmp"   # another run made it first
  fi
  echo "$d/bin"
}

if [ "${1:-}" = "--bin-dir" ]; then bin_dir; exit; fi

if (($#)); then selected=("$@"); else selected=("${TOOLS[@]}"); fi
for t in "${selected[@]}"; do describe "$t"; done   # unknown names fail before anything builds
command -v go >/dev/null || { say "the Go toolchain (go) is not on PATH"; exit 1; }
mkdir -p "$cache"
say "$(go version | cut -d' ' -f3); module cache $(go env GOMODCACHE), build cache $(go env GOCACHE)"
started=$(date +%s)
for t in "${selected[@]}"; do
  while (( $(jobs -rp | wc -l) >= ${PMI_BUILD_JOBS:-2} )); do wait -n || true; done
  build_tool "$t" &
done
wait || true
failed=()
for t in "${selected[@]}"; do describe "$t"; is_fresh "$t" || failed+=("$t"); done
if ((${#failed[@]})); then say "failed: ${failed[*]}"; exit 1; fi
say "done in $(( $(date +%s) - started )) s"
bin_dir || [ $# -gt 0 ]

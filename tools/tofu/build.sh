#!/usr/bin/env bash
# Build the pinned OpenTofu and providers (tools/tofu/pins.env) from the Go module proxy into
# $TOFU_HOME (default ~/.cache/cryptostream/tofu):
#   bin/tofu-<ver>, bin/tofu -> tofu-<ver>       the CLI
#   mirror/<host>/<ns>/<type>/<ver>/<os_arch>/   a filesystem mirror (unpacked layout)
#   tofurc                                       CLI config: providers from that mirror only
# Idempotent: whatever already exists is kept, so a second run only checks files.
# Builds are reproducible (pinned Go toolchain, CGO off, -trimpath, fixed ldflags), which is
# what lets the committed .terraform.lock.hcl hashes match a build on another machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pins.env
source "$here/pins.env"

TOFU_HOME=${TOFU_HOME:-${CRYPTOSTREAM_CACHE:-$HOME/.cache/cryptostream}/tofu}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
# Provider addresses are written without a host, so OpenTofu looks them up as
# registry.opentofu.org/... and Terraform as registry.terraform.io/...; the mirror serves both.
MIRROR_HOSTS="registry.opentofu.org registry.terraform.io"

export GOMODCACHE="$TOFU_HOME/go/mod" GOCACHE="$TOFU_HOME/go/build"
export GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN="$GO_VERSION"
platform="$("$GO" env GOOS)_$("$GO" env GOARCH)"

log() { printf 'tofu-build: %s\n' "$*" >&2; }

# The source directory of module@version in the module cache (downloaded if missing).
module_dir() {
  local dir
  dir=$(cd "$TOFU_HOME" && "$GO" mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" && -d "$dir" ]] || { log "could not download $1@$2 from $("$GO" env GOPROXY)"; return 1; }
  printf '%s\n' "$dir"
}

# Build package $3 of module $1@$2 into file $4 with ldflags $5. `go install mod@ver` refuses
# modules with replace directives (OpenTofu has one), so build in a writable copy of the source.
build() {
  local module=$1 version=$2 package=$3 out=$4 ldflags=$5 src
  src=$(module_dir "$module" "$version")
  local work="$TOFU_HOME/src/$(basename "$src")"
  rm -rf "$work" && mkdir -p "$(dirname "$work")" "$(dirname "$out")"
  cp -r "$src" "$work" && chmod -R u+w "$work"
  log "building $module@$version ($package)"
  (cd "$work" && "$GO" build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out.tmp" "$package")
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

build_tofu() {
  local bin="$TOFU_HOME/bin/tofu-$TOFU_VERSION"
  if [[ ! -x "$bin" ]]; then
    build "$TOFU_MODULE" "v$TOFU_VERSION" ./cmd/tofu "$bin" \
      "-s -w -X github.com/opentofu/opentofu/version.dev=no"
  fi
  ln -sfn "tofu-$TOFU_VERSION" "$TOFU_HOME/bin/tofu"
}

build_provider() {
  local address=$1 version=$2 module=$3 module_version=$4 type=${1#*/}
  local first_host=${MIRROR_HOSTS%% *} host
  local dir="$TOFU_HOME/mirror/$first_host/$address/$version/$platform"
  local bin="$dir/terraform-provider-${type}_v$version"
  if [[ ! -x "$bin" ]]; then
    build "$module" "$module_version" . "$bin" "-s -w -X main.version=$version"
  fi
  # The same file under the other host names (hard links: the mirror scan does not follow
  # symlinked directories).
  for host in ${MIRROR_HOSTS#* }; do
    local other="$TOFU_HOME/mirror/$host/$address"
    [[ -L "$other" ]] && rm "$other"
    mkdir -p "$other/$version/$platform"
    ln -f "$bin" "$other/$version/$platform/" 2>/dev/null || cp -p "$bin" "$other/$version/$platform/"
  done
}

write_cli_config() {
  local config="$TOFU_HOME/tofurc"
  cat > "$config.tmp" <<EOF
# Written by tools/tofu/build.sh: providers come from the local filesystem mirror only.
provider_installation {
  filesystem_mirror {
    path = "$TOFU_HOME/mirror"
  }
}
EOF
  mv "$config.tmp" "$config"
}

main() {
  mkdir -p "$TOFU_HOME"
  local have
  have=$("$GO" version | awk '{print $3}')
  [[ "$have" == "$GO_VERSION" ]] || log "go is $have; GOTOOLCHAIN=$GO_VERSION fetches $GO_VERSION from the proxy"
  build_tofu
  while read -r address version module module_version; do
    [[ -n "$address" ]] && build_provider "$address" "$version" "$module" "$module_version"
  done <<< "$PROVIDERS"
  write_cli_config
  log "ready: $TOFU_HOME/bin/tofu ($(TF_CLI_CONFIG_FILE="$TOFU_HOME/tofurc" "$TOFU_HOME/bin/tofu" version | head -1)), TF_CLI_CONFIG_FILE=$TOFU_HOME/tofurc"
}

main "$@"

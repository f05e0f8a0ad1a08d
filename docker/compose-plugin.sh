#!/usr/bin/env bash
# Make `docker compose` (the v2 CLI plugin) available; idempotent.
#
# Debian bookworm packages only Compose v1 (docker-compose 1.29, Python) and no
# docker-compose-plugin, and no release binaries can be downloaded here. Compose v2 is a Go
# module, so it is built from the Go module proxy (pinned version, cached binary) and linked into
# the Docker CLI's plugin folder. Without a Go toolchain, Debian's v1 `docker-compose` is
# installed instead (docker-compose.yml works with both; see docker/README.md).
#
# Environment:
#   COMPOSE_VERSION     Compose v2 module version          default v2.40.3
#   CRYPTOSTREAM_CACHE  cache root for the built binary    default ~/.cache/cryptostream
#   DOCKER_CONFIG       Docker CLI config folder           default ~/.docker
set -euo pipefail

COMPOSE_VERSION=${COMPOSE_VERSION:-v2.40.3}
MODULE=github.com/docker/compose/v2
CACHE=${CRYPTOSTREAM_CACHE:-$HOME/.cache/cryptostream}/docker
BINARY=$CACHE/bin/docker-compose-$COMPOSE_VERSION
PLUGIN_DIR=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

say() { echo "compose-plugin: $*" >&2; }

build_from_module_proxy() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/compose-build.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    say "building Compose $COMPOSE_VERSION from the Go module proxy (a few minutes, once)"
    local module_dir
    module_dir=$(go mod download -json "$MODULE@$COMPOSE_VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    # Compose's go.mod has exclude directives, which `go install module@version` refuses:
    # build inside a copy of the module instead, as its own main module.
    cp -r "$module_dir/." "$WORK/" && chmod -R u+w "$WORK"
    mkdir -p "$(dirname "$BINARY")"
    (cd "$WORK" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
        -ldflags "-s -w -X $MODULE/internal.Version=$COMPOSE_VERSION" -o "$BINARY.tmp" ./cmd)
    mv "$BINARY.tmp" "$BINARY"
}

install_v1_from_debian() {
    say "no Go toolchain: installing Debian's Compose v1 (docker-compose)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose
}

main() {
    if docker compose version >/dev/null 2>&1; then
        say "$(docker compose version)"
        return 0
    fi
    if ! command -v go >/dev/null; then
        command -v docker-compose >/dev/null || install_v1_from_debian
        say "$(docker-compose version --short 2>/dev/null || echo v1) (v1)"
        return 0
    fi
    [ -x "$BINARY" ] || build_from_module_proxy
    mkdir -p "$PLUGIN_DIR"
    ln -sf "$BINARY" "$PLUGIN_DIR/docker-compose"
    say "$(docker compose version)"
}

main "$@"

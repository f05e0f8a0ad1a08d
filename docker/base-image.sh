#!/usr/bin/env bash
# The base image every Dockerfile starts FROM (build arg BASE_IMAGE); idempotent.
#
# No container registry is reachable on the development machines, so by default the base is made
# offline: `debootstrap --variant=minbase` of Debian bookworm from Debian's package mirror, then
# `docker import`. The root filesystem tarball is cached so later runs (and other clones) skip
# debootstrap. Where a registry is reachable, BASE_IMAGE=debian:bookworm-slim uses the public image
# instead and this script only pulls it.
#
# Configuration (environment; defaults in docker/images.env):
#   BASE_IMAGE        image name                      cryptostream/base:bookworm
#   DEBIAN_SUITE      Debian release                  bookworm
#   DEBIAN_MIRROR     package mirror                  http://deb.debian.org/debian
#   CRYPTOSTREAM_CACHE  tarball cache root            ~/.cache/cryptostream
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=images.env
source "$HERE/images.env"
CACHE=${CRYPTOSTREAM_CACHE:-$HOME/.cache/cryptostream}/docker
TARBALL=$CACHE/base-$DEBIAN_SUITE-minbase.tar

say() { echo "base-image: $*" >&2; }

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_debootstrap() {
    command -v debootstrap >/dev/null && return
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
}

# What debian:*-slim images also do: apt sources with updates and security, no docs or man pages,
# no apt caches kept in layers.
write_slim_config() {
    local root=$1
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${DEBIAN_MIRROR}
Suites: ${DEBIAN_SUITE} ${DEBIAN_SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_SECURITY_MIRROR}
Suites: ${DEBIAN_SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    echo 'APT::Install-Recommends "false"; APT::Install-Suggests "false";' \
        >"$root/etc/apt/apt.conf.d/docker-no-recommends"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
    : >"$root/etc/hostname"
    rm -f "$root/etc/machine-id"
}

# debootstrap mounts /proc and /sys inside the new root: unmount before deleting, and never
# let rm cross into another file system.
remove_root() {
    local root=$1 mountpoint
    for mountpoint in $(awk -v r="$root" '$2 ~ "^"r"/" {print $2}' /proc/mounts | sort -r); do
        umount -l "$mountpoint" || true
    done
    rm -rf --one-file-system "$root" "$root.log"
}

build_tarball() {
    ensure_debootstrap
    local root
    root=$(mktemp -d "${TMPDIR:-/tmp}/cryptostream-rootfs.XXXXXX")
    trap 'remove_root "$root"' EXIT
    say "debootstrap --variant=minbase $DEBIAN_SUITE from $DEBIAN_MIRROR"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 || {
        tail -n 20 "$root.log" >&2
        exit 1
    }
    rm -f "$root.log"
    write_slim_config "$root"
    mkdir -p "$CACHE"
    tar --numeric-owner --one-file-system -C "$root" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    remove_root "$root"
    trap - EXIT
}

main() {
    if image_present "$BASE_IMAGE"; then
        say "$BASE_IMAGE present"
        return 0
    fi
    if [[ $BASE_IMAGE != cryptostream/base:* ]]; then
        say "pulling $BASE_IMAGE"
        docker pull "$BASE_IMAGE"
        return 0
    fi
    [ -s "$TARBALL" ] || build_tarball
    say "importing $TARBALL as $BASE_IMAGE"
    docker import --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$TARBALL" "$BASE_IMAGE" >/dev/null
}

main "$@"

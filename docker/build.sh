#!/usr/bin/env bash
# Build the project's images (docker/Dockerfile, one target each) with BuildKit.
#
#   docker/build.sh [TARGET...]     default: all of kafka spark app clickhouse-endpoint localstack
#
# Names and tags come from docker/images.env (${IMAGE_PREFIX}/<target>:${IMAGE_TAG}). The JVM jars
# are the ones `make jars` resolved (jvm/*/pom.xml, $CRYPTOSTREAM_CACHE/jvm/*.classpath), staged
# into the build context (docker/.jars/, hard links where possible) rather than resolved again.
# Likewise the producer's native hot path (producer/fastpath) is built here, on the host, into a
# wheel (docker/.wheels/): the images need no Rust toolchain.
# Kafka's software is not installed by the Dockerfile: the kafka role installs it on a build
# node (terraform/envs/image_build, ansible/image.yml), which is committed as the kafka stage's
# base (build_kafka_base), so a broker is installed one way on nodes and in images. That needs
# OpenTofu (`make tofu`), Ansible (`make infra-tools`), the node image, the apt cache and a
# staged release (`make release`); `make images` makes them.
# Prints one line per image with its build time.
#
# Environment:
#   HOST_CA_BUNDLE   CA bundle handed to pip as a build secret (default: $PIP_CERT, else the
#                    system bundle); lets builds pass a TLS-inspecting proxy, never stored in images
#   PIP_INDEX_URL    package index for pip inside the build (default https://pypi.org/simple)
#   BUILD_PROGRESS   BuildKit progress output: auto | plain | tty (default plain, to the log)
#   BUILD_LOG_DIR    where each target's build log goes (default .state/logs/docker-build)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=images.env
source "$HERE/images.env"
CACHE=${CRYPTOSTREAM_CACHE:-$HOME/.cache/cryptostream}
JVM_CACHE=$CACHE/jvm
ALL_TARGETS=(node kafka spark app clickhouse-endpoint localstack)
BUILD_LOG_DIR=${BUILD_LOG_DIR:-$ROOT/.state/logs/docker-build}

say() { echo "images: $*" >&2; }

# A docker client that builds with BuildKit: the CLI's buildx plugin if present, else Debian's
# docker.io client (20.10), which has BuildKit built in. A newer CLI without buildx cannot.
pick_client() {
    if docker buildx version >/dev/null 2>&1; then
        DOCKER=(docker)
    elif [ -x /usr/bin/docker ] && DOCKER_BUILDKIT=1 /usr/bin/docker build --help 2>/dev/null |
        grep -q -- '--secret'; then
        DOCKER=(/usr/bin/docker)
    else
        say "no BuildKit-capable docker client (install the buildx plugin or Debian's docker.io)"
        exit 1
    fi
    export DOCKER_BUILDKIT=1
}

stage_jars() {
    local name jar target
    for name in kafka spark; do
        local classpath=$JVM_CACHE/$name.classpath
        [ -s "$classpath" ] || { say "$classpath is missing: run 'make jars'"; exit 1; }
        target=$HERE/.jars/$name
        rm -rf "$target" && mkdir -p "$target"
        # (the classpath file has no trailing newline: read the last entry too)
        tr ':' '\n' <"$classpath" | while read -r jar || [ -n "$jar" ]; do
            ln -f "$jar" "$target/" 2>/dev/null || cp -p "$jar" "$target/"
        done
    done
}

# One abi3 wheel (any CPython >= 3.11), built against this host's glibc: the images' Debian
# release is the host's (bookworm), so it loads there. Needs `make venv` (its pip) and cargo.
stage_wheels() {
    local target=$HERE/.wheels
    rm -rf "$target" && mkdir -p "$target"
    PATH=$HOME/.cargo/bin:$PATH CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/cargo-target} \
        "$ROOT/.venv/bin/pip" wheel -q --no-deps -w "$target" "$ROOT/producer/fastpath"
}

ca_bundle() {
    local bundle=${HOST_CA_BUNDLE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}
    [ -s "$bundle" ] && echo "$bundle"
}

build_one() {
    local target=$1 image=$IMAGE_PREFIX/$1:$IMAGE_TAG log=$BUILD_LOG_DIR/$1.log
    local started=$SECONDS secret=()
    local bundle
    if bundle=$(ca_bundle); then secret=(--secret "id=cacerts,src=$bundle"); fi
    if ! "${DOCKER[@]}" build --progress "${BUILD_PROGRESS:-plain}" \
        -f "$HERE/Dockerfile" --target "$target" -t "$image" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --build-arg "KAFKA_BASE_IMAGE=$IMAGE_PREFIX/kafka-base:$IMAGE_TAG" \
        --build-arg "JAVA_PACKAGE=$JAVA_PACKAGE" \
        --build-arg "PIP_INDEX_URL=${PIP_INDEX_URL:-https://pypi.org/simple}" \
        --build-arg "PIP_DEFAULT_TIMEOUT=${PIP_DEFAULT_TIMEOUT:-120}" \
        "${secret[@]}" "$ROOT" >"$log" 2>&1; then
        say "building $image failed; last lines of $log:"
        tail -n 30 "$log" >&2
        exit 1
    fi
    printf 'images: %-45s %4ds  (log %s)\n' "$image" $((SECONDS - started)) "$log" >&2
}

# What the kafka base is made of: the roles and playbook that install it, the build node's
# definition, the node image and the release's Kafka jars. Labelled on the image, so an unchanged
# base is reused.
kafka_base_inputs() {
    {
        find "$ROOT/ansible/roles/kafka" "$ROOT/ansible/roles/common" "$ROOT/ansible/roles/settings" \
            "$ROOT/ansible/image.yml" "$ROOT/terraform/envs/image_build" "$ROOT/terraform/modules" \
            -type f -not -path '*/.terraform/*' -print0 | sort -z | xargs -0 sha256sum
        docker image inspect -f '{{.Id}}' "$IMAGE_PREFIX/node:$IMAGE_TAG"
        grep -A1 '"kafka-libs.tar"' "$CACHE/releases/current/release.json"
    } | sha256sum | cut -c1-16
}

# A build node from terraform/envs/image_build, the kafka role's install on it, then
# `docker commit`; the node is destroyed whatever happens.
build_kafka_base() {
    local image=$IMAGE_PREFIX/kafka-base:$IMAGE_TAG log=$BUILD_LOG_DIR/kafka-base.log
    local work=$CACHE/image-build tf=$ROOT/terraform/envs/image_build started=$SECONDS
    local version inputs
    [ -f "$CACHE/releases/current/release.json" ] || { say "no staged release: run 'make release'"; exit 1; }
    inputs=$(kafka_base_inputs)
    if [ "$(docker image inspect -f '{{index .Config.Labels "com.cryptostream.inputs"}}' "$image" 2>/dev/null)" = "$inputs" ]; then
        say "$image is up to date (inputs $inputs)"
        return
    fi
    version=$(sed -n 's/^TOFU_VERSION=//p' "$ROOT/tools/tofu/pins.env")
    TOFU=(env "TF_CLI_CONFIG_FILE=$CACHE/tofu/tofurc" "$CACHE/tofu/bin/tofu-$version")
    TOFU_VARS=(-input=false -no-color -state="$work/terraform.tfstate"
        -var "ssh_key_dir=$work/ssh" -var "output_dir=$work" -var 'groups=["kafka"]')
    [ -x "$CACHE/tofu/bin/tofu-$version" ] || { say "OpenTofu is missing: run 'make tofu'"; exit 1; }
    [ -x "$ROOT/.venv/bin/ansible-playbook" ] || { say "Ansible is missing: run 'make infra-tools'"; exit 1; }
    if [ -f "$work/terraform.tfstate" ]; then destroy_build_nodes >/dev/null 2>&1 || true; fi
    rm -rf "$work" && mkdir -p "$work"
    trap destroy_build_nodes EXIT
    if ! {
        "${TOFU[@]}" -chdir="$tf" init -input=false -no-color -lockfile=readonly &&
            "${TOFU[@]}" -chdir="$tf" apply -auto-approve "${TOFU_VARS[@]}" &&
            ANSIBLE_CONFIG=$ROOT/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 \
                "$ROOT/.venv/bin/ansible-playbook" -i "$work/inventory.yml" "$ROOT/ansible/image.yml" &&
            local node && node=$("${TOFU[@]}" -chdir="$tf" output -state="$work/terraform.tfstate" \
                -raw kafka_container) &&
            docker stop "$node" &&
            docker commit --change "LABEL com.cryptostream.inputs=$inputs" "$node" "$image"
    } >"$log" 2>&1; then
        say "installing Kafka by its role on a build node failed; last lines of $log:"
        tail -n 30 "$log" >&2
        exit 1
    fi
    destroy_build_nodes >>"$log" 2>&1
    trap - EXIT
    printf 'images: %-45s %4ds  (log %s)\n' "$image" $((SECONDS - started)) "$log" >&2
}

destroy_build_nodes() {
    "${TOFU[@]}" -chdir="$ROOT/terraform/envs/image_build" destroy -auto-approve "${TOFU_VARS[@]}"
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
    pick_client
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 ||
        { say "base image $BASE_IMAGE is missing: run 'make base-image'"; exit 1; }
    mkdir -p "$BUILD_LOG_DIR"
    stage_jars
    stage_wheels
    local target
    for target in "${targets[@]}"; do
        [ "$target" != kafka ] || build_kafka_base
        build_one "$target"
    done
}

main "$@"

#!/usr/bin/env bash
# One Debian package cache for every node of the local environments: apt-cacher-ng on this
# machine (the controller), which the nodes use as their apt proxy (role common,
# common_apt_proxy; terraform/envs/local sets it to this machine's address on the nodes'
# network). Nine nodes then download openjdk once. Idempotent: installs (Debian's package) and
# starts it only when nothing answers on the port.
#
# Environment:
#   APT_CACHE_PORT   port (default 3142)
#   APT_CACHE_DIR    cached packages (default $CRYPTOSTREAM_CACHE/apt-cacher-ng, outside the tree)
#   DEBIAN_MIRROR    where Debian's packages are fetched (default http://deb.debian.org/debian;
#                    Debian's apt-cacher-ng package would use ftp.debian.org, not reachable here)
set -euo pipefail

PORT=${APT_CACHE_PORT:-3142}
CACHE=${CRYPTOSTREAM_CACHE:-$HOME/.cache/cryptostream}
DIR=${APT_CACHE_DIR:-$CACHE/apt-cacher-ng}

say() { echo "apt-cache: $*" >&2; }

answers() { curl -fsS -o /dev/null "http://127.0.0.1:$PORT/acng-report.html"; }

if answers; then
    say "answering on port $PORT"
    exit 0
fi
if ! command -v apt-cacher-ng >/dev/null; then
    [ "$(id -u)" = 0 ] || { say "apt-cacher-ng is missing and installing it needs root"; exit 1; }
    say "installing Debian's apt-cacher-ng"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends apt-cacher-ng \
        >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends apt-cacher-ng >/dev/null; }
fi
mkdir -p "$DIR/cache" "$DIR/log" "$DIR/conf"
# The package's configuration, with the Debian archive's backend pointed at our mirror.
cp -a /etc/apt-cacher-ng/. "$DIR/conf/"
echo "${DEBIAN_MIRROR:-http://deb.debian.org/debian}/" >"$DIR/conf/backends_debian"
say "starting on port $PORT (cache $DIR/cache)"
setsid apt-cacher-ng -c "$DIR/conf" "CacheDir=$DIR/cache" "LogDir=$DIR/log" \
    "Port=$PORT" "BindAddress=0.0.0.0" "PidFile=$DIR/pid" "SocketPath=$DIR/socket" \
    ForeGround=0 </dev/null >>"$DIR/log/start.log" 2>&1
for _ in $(seq 50); do
    answers && { say "ready"; exit 0; }
    sleep 0.2
done
say "apt-cacher-ng did not answer on port $PORT; see $DIR/log"
exit 1

#!/usr/bin/env bash
# Builds the berth-flex installer image (this directory's Dockerfile) from a build's binaries, in
# the dockerd that `docker` talks to ($DOCKER_HOST). With --base-from-debian it first makes the
# Debian 12 base image from Debian's own packages (mmdebstrap, then docker import), so no
# registry is needed: only a Debian mirror. Prints the build time and the image's size.
set -euo pipefail
umask 022

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's/^project(berth VERSION \([0-9.]*\).*/\1/p' "$script_dir/../../CMakeLists.txt")
tag=berth/berth-flex-installer:${version:-dev}
base=debian:12-slim
base_from_debian=0
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${BERTH_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

usage() {
  cat <<EOF
Usage: build-image.sh BUILD_BIN_DIR [options]

Builds the FlexVolume installer image (packaging/kubernetes/Dockerfile) from berth-flex and
berth-nfs-fuse in BUILD_BIN_DIR (a Debian 12 build), with install.sh, in the dockerd that
\`docker\` talks to (set DOCKER_HOST for another one).

Options:
  --tag TAG            the image's name; default $tag
  --base IMAGE         the Debian 12 image to build on; default $base
  --base-from-debian   first build the base image from Debian's packages with mmdebstrap
                       (variant minbase, bookworm with its updates and security suites) and
                       docker import it as berth/debian:12-minbase, then build on that. For a
                       dockerd that can reach no registry. Mirrors: \$BERTH_DEBIAN_MIRROR
                       (default $mirror) and \$BERTH_DEBIAN_SECURITY_MIRROR
                       (default $security_mirror).
  -h, --help           this text

The image's RUN steps download packages: the build runs with --network host, so it needs what
the host can reach (the Debian mirror), not a container network.
EOF
}

die() {
  echo "build-image.sh: $*" >&2
  exit 1
}
say() { echo "build-image: $*"; }
# Milliseconds since $1 (an $EPOCHREALTIME), whatever the locale's decimal mark.
ms_since() { echo $(((${EPOCHREALTIME//[!0-9]/} - ${1//[!0-9]/}) / 1000)); }

bin_dir=""
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --tag) [ -n "${2:-}" ] || die "--tag needs a name"; tag=$2; shift 2 ;;
    --base) [ -n "${2:-}" ] || die "--base needs an image"; base=$2; shift 2 ;;
    --base-from-debian) base_from_debian=1; shift ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$bin_dir" ] || die "one BUILD_BIN_DIR only (see --help)"; bin_dir=$1; shift ;;
  esac
done
[ -n "$bin_dir" ] || die "usage: build-image.sh BUILD_BIN_DIR [options] (see --help)"
for binary in berth-flex berth-flex-driver berth-nfs-fuse; do
  [ -x "$bin_dir/$binary" ] || die "no executable $binary in $bin_dir (build first: scripts/build)"
done
command -v docker >/dev/null || die "docker (the client) is needed"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no dockerd answers at ${DOCKER_HOST:-the default socket}"

work=$(mktemp -d /tmp/berth-image.XXXXXX)
trap 'rm -rf --one-file-system -- "$work"' EXIT
started=$EPOCHREALTIME

if [ "$base_from_debian" = 1 ]; then
  command -v mmdebstrap >/dev/null || die "--base-from-debian needs mmdebstrap (apt-get install mmdebstrap)"
  base=berth/debian:12-minbase
  step=$EPOCHREALTIME
  say "building the Debian 12 base image with mmdebstrap (minbase, from $mirror)"
  # What debian:12-slim leaves out: documentation, manual pages and translations (copyright
  # files stay), apt's package lists and its downloaded packages.
  # shellcheck disable=SC2016  # $1 is the hook's argument (the new root), for mmdebstrap's shell
  clean_hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin'
  mmdebstrap --variant=minbase --format=tar \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook="$clean_hook" \
    bookworm "$work/base.tar" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security_mirror bookworm-security main" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -n 20 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
  docker import --change 'CMD ["/bin/bash"]' "$work/base.tar" "$base" >/dev/null ||
    die "docker import of the base image failed"
  say "base image $base: $(($(ms_since "$step") / 1000)) s"
fi

# The build context: the binaries without their debug info (a RelWithDebInfo build carries
# ~40 MB of it) and install.sh.
mkdir -p "$work/context/bin"
for binary in berth-flex berth-flex-driver berth-nfs-fuse; do
  cp "$bin_dir/$binary" "$work/context/bin/"
  strip --strip-debug "$work/context/bin/$binary"
done
cp "$script_dir/install.sh" "$work/context/"

step=$EPOCHREALTIME
say "building $tag on $base"
# The classic builder: Debian's docker.io ships no buildx. Host network: a lab dockerd may run
# without a bridge, and apt in the RUN step needs the mirror.
DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$base" \
  -f "$script_dir/Dockerfile" -t "$tag" "$work/context" >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; die "docker build failed"; }
size=$(docker image inspect --format '{{.Size}}' "$tag")
say "image $tag: $(($(ms_since "$step") / 1000)) s to build, $((size / 1000000)) MB"
say "done in $(($(ms_since "$started") / 1000)) s"

#!/bin/sh
# The task image of examples/swe-mini (and of its tests): Debian bookworm minbase with
# python3 and git, built from the Debian archive with debootstrap (no registry needed)
# and imported into podman as localhost/swe-mini:1. Cached: skipped when the image
# exists. ~1 min to build, ~10 s to import, ~380 MB. Needs 40-podman.sh first.
set -eu
IMAGE=${SWE_MINI_IMAGE:-localhost/swe-mini:1}
if ! command -v podman >/dev/null 2>&1; then
    echo "ERROR: podman missing (scripts/setup.d/40-podman.sh installs it): cannot build $IMAGE" >&2
    exit 1
fi
if podman image exists "$IMAGE" 2>/dev/null; then
    echo "image $IMAGE present"
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing: debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "WARNING: apt-get update failed" >&2
    if ! apt-get install -y -qq debootstrap; then
        echo "ERROR: cannot install debootstrap: $IMAGE cannot be built (swe-mini tests will fail)" >&2
        exit 1
    fi
fi
# The machine's own Debian mirror (deb822 sources, else sources.list), else the default.
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$MIRROR" ]; then
    MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/swe-mini-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $IMAGE with debootstrap from $MIRROR (about a minute)"
if ! debootstrap --variant=minbase --include=python3,git bookworm "$root" "$MIRROR" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    echo "ERROR: debootstrap failed: $IMAGE not built" >&2
    rm -f "$root.log"
    exit 1
fi
rm -f "$root.log"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* 2>/dev/null || true
tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
echo "built image $IMAGE"

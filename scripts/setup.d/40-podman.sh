#!/bin/sh
# Container trials (labj isolation tests): podman with the runc runtime, and two tiny
# test images built locally from a busybox-static root filesystem (no registry needed).
# Idempotent: quick when everything is already there. Loud when it cannot install.
set -eu
need=""
command -v podman >/dev/null 2>&1 || need="$need podman"
command -v runc >/dev/null 2>&1 || need="$need runc"
[ -x /bin/busybox ] || need="$need busybox-static"
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "WARNING: apt-get update failed" >&2
    # shellcheck disable=SC2086
    if ! apt-get install -y -qq $need; then
        echo "ERROR: cannot install$need: container tests will fail (they need podman + runc)" >&2
        exit 1
    fi
fi
# Images the tests use: localhost/labj-test-a:1 and localhost/labj-test-b:1, each a
# busybox root with /marker naming the image (tests check which one an agent saw), and
# localhost/labj-test-user:1, the same with a user `agent` (uid 1000, group `agents`
# 1001) for run_as_user tests. Only root otherwise: no `nobody`.
build() {
    name=$1
    users=${2:-}
    if podman image exists "localhost/$name:1" 2>/dev/null; then
        return 0
    fi
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/dev" "$root/sys"
    cp /bin/busybox "$root/bin/busybox"
    for app in $(/bin/busybox --list); do
        [ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"
    done
    echo "$name" > "$root/marker"
    echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
    echo "root:x:0:" > "$root/etc/group"
    if [ -n "$users" ]; then
        echo "agent:x:1000:1001:agent:/:/bin/sh" >> "$root/etc/passwd"
        echo "agents:x:1001:" >> "$root/etc/group"
    fi
    tar -C "$root" -cf "$root.tar" .
    podman import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' "$root.tar" "localhost/$name:1" >/dev/null
    rm -rf "$root" "$root.tar"
    echo "built image localhost/$name:1"
}
build labj-test-a
build labj-test-b
build labj-test-user with-users
podman --version

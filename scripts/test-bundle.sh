#!/usr/bin/env bash
# sudo scripts/test-bundle.sh ARCH   (make test-bundle ARCH=arm64|armhf, after make bundle)
# Checks the offline bundle as a new Raspberry Pi meets it: a fresh Debian 12 chroot of ARCH holding only
# what Raspberry Pi OS Lite has that matters here (python3, no numpy, no compiler, no pip), under qemu-user,
# with networking disabled (unshare -n: only a loopback interface). In it: sudo ./install.sh, the service's
# unit rendered by install-service.sh, its ExecStart run as the service would (no HX711 here: the simulated
# plate, loudly), and the first-start page fetched over loopback. Fails (exit 1) at the first thing wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
arch=${1:?usage: scripts/test-bundle.sh arm64|armhf (or the host architecture)}
cache=${FORCEPLATE_ARCH_CACHE:-/var/cache/forceplate-arch}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf 'test-bundle(%s): %s\n' "$arch" "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "test-bundle: run it as root" >&2; exit 2; }
bundle=$(ls -t "$repo"/dist/forceplate-bundle-*-"$arch".tar 2>/dev/null | head -1)
[ -n "$bundle" ] || fail "no dist/forceplate-bundle-*-$arch.tar: run make bundle first"
# the host side (debootstrap, qemu-user-static, binfmt_misc) is arch-chroot.sh's: prepare it there
[ "$arch" = "$(dpkg --print-architecture)" ] || scripts/arch-chroot.sh "$arch" host
dpkg -s debootstrap >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null

base="$cache/$arch-lite"
if [ ! -e "$base/.stamp-debootstrap" ]; then
    say "debootstrap a minimal bookworm with python3 into $base"
    rm -rf "$base"
    debootstrap --arch="$arch" --variant=minbase --include=python3 bookworm "$base" "$mirror" >&2
    touch "$base/.stamp-debootstrap"
fi
root=$(mktemp -d "$cache/$arch-fresh.XXXXXX")
mounts=()
cleanup() {
    local i
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT
cp -a "$base/." "$root/"
for m in proc dev tmp; do mkdir -p "$root/$m"; done
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
mount --bind /dev "$root/dev"; mounts+=("$root/dev")
mount -t tmpfs tmpfs "$root/tmp"; mounts+=("$root/tmp")
tar -xf "$bundle" -C "$root/root"
name=$(basename "$bundle" .tar)
! chroot "$root" python3 -c 'import numpy' 2>/dev/null || fail "the fresh chroot already has numpy"

offline() {     # a new network namespace: loopback only, brought up; nothing outside reachable
    unshare -n /bin/bash -c 'ip link set lo up 2>/dev/null || python3 -c "
import fcntl, socket, struct
s = socket.socket(); ifr = struct.pack(\"16sH\", b\"lo\", 0x1 | 0x40)
fcntl.ioctl(s, 0x8914, ifr)"; exec "$@"' offline env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        chroot "$root" "$@"
}
offline python3 -c '
import socket
try:
    socket.create_connection(("151.101.0.223", 80), timeout=3)
except OSError as exc:
    print("test-bundle: no network, as meant:", exc)
else:
    raise SystemExit("test-bundle: the chroot reaches the network")' >&2

start=$(date +%s)
offline /bin/bash -c "cd /root/$name && ./install.sh --no-service" >&2 || fail "install.sh"
say "install.sh took $(( $(date +%s) - start )) s"
chroot "$root" /opt/forceplate/.venv/bin/python -c \
    'from forceplate.device import sampling; assert sampling.KERNEL == "compiled", sampling.KERNEL' \
    || fail "the installed kernels are not the compiled ones"
chroot "$root" /opt/forceplate/scripts/install-service.sh --dest /tmp/units >&2 || fail "install-service.sh --dest"
execstart=$(sed -n 's/^ExecStart=//p' "$root/tmp/units/forceplate.service")
[ "$execstart" = "/opt/forceplate/.venv/bin/forceplate serve" ] || fail "the unit starts '$execstart'"

say "starting the service's command, offline: $execstart"
mkdir -p "$root/var/lib/forceplate"
offline /bin/bash -c "FORCEPLATE_DATA_DIR=/var/lib/forceplate PYTHONUNBUFFERED=1 $execstart > /tmp/serve.log 2>&1 &
    for i in \$(seq 1 240); do
        if python3 - <<'EOF' 2>/dev/null
import re, urllib.request
page = urllib.request.urlopen('http://127.0.0.1:8080/setup', timeout=5).read().decode()
assert 'code' in page.lower(), page[:300]
print('test-bundle: GET /setup:', re.sub(r'\s+', ' ', re.sub('<[^>]+>', ' ', page))[:160].strip())
EOF
        then ok=1; break; fi
        sleep 1
    done
    grep -q 'First start: open http://.*/setup and enter the code [0-9]' /tmp/serve.log || ok=0
    sed -n '1,12p' /tmp/serve.log
    kill %1; wait
    [ \"\${ok:-0}\" = 1 ]" >&2 || fail "forceplate serve did not show the first-start page"
say "OK: $name installed offline and served the first-start page"

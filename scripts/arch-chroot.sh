#!/usr/bin/env bash
# sudo scripts/arch-chroot.sh ARCH prepare|test|core|bundle|shell [PYTEST ARGS...]
# A Debian 12 (bookworm) chroot of a Raspberry Pi architecture, run under qemu-user emulation, and
# forceplate installed in it the way a Pi installs it (scripts/bootstrap.sh):
#   ARCH    arm64 (64-bit Raspberry Pi OS; numpy and the rest from PyPI wheels)
#           armhf (32-bit Raspberry Pi OS; Debian's python3-numpy through a --system-site-packages venv,
#           since PyPI has no armv7l numpy)
#   prepare build (or update) the chroot and install forceplate with its test extra
#   test    prepare, then the whole suite without the browser tests (-m "not browser")
#   core    prepare, then the core subset: the kernels and everything handling counts, times and chunks
#   bundle  build the offline install bundle (scripts/make-bundle.sh) in the chroot, into dist/
#   shell   prepare, then a shell in the chroot, in the copy of the project
#   host    only make the host able to run ARCH binaries (packages, binfmt_misc)
# The chroot is cached outside the repository, in $FORCEPLATE_ARCH_CACHE/ARCH (default
# /var/cache/forceplate-arch/ARCH); delete that folder to start afresh. Needs root (debootstrap, chroot,
# mounts); installs the Debian packages it needs (debootstrap, qemu-user-static, binfmt-support).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
arch=${1:?usage: scripts/arch-chroot.sh arm64|armhf prepare|test|core|bundle|shell [pytest args]}
what=${2:-test}
shift 2 || shift $#
case "$arch" in
    arm64) qemu=aarch64 ;;
    armhf) qemu=arm ;;
    *) echo "arch-chroot: ARCH must be arm64 or armhf, not '$arch'" >&2; exit 2 ;;
esac
cache=${FORCEPLATE_ARCH_CACHE:-/var/cache/forceplate-arch}
root="$cache/$arch"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf 'arch-chroot(%s): %s\n' "$arch" "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "arch-chroot: run it as root (sudo make test-arch ARCH=$arch)" >&2; exit 2; }

# --- the host: debootstrap, qemu-user-static and a binfmt_misc registration ------------------------
need=()
for p in debootstrap qemu-user-static binfmt-support ca-certificates; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    say "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    say "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ]; then
    update-binfmts --enable "qemu-$qemu"
fi
# the F flag: the kernel opens the interpreter now, so it runs inside the chroot without a copy there
grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu" \
    || { say "qemu-$qemu is registered without the F flag: binaries in the chroot cannot start"; exit 1; }
[ "$what" = host ] && exit 0        # (test-bundle.sh: the host side only)

# --- the chroot ----------------------------------------------------------------------------------------
mounts=()
cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount -l "${mounts[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT
bind() {        # bind the host's $1 onto the chroot's $1 (read-only with ro)
    mkdir -p "$root$1"
    mount --bind "$1" "$root$1"
    mounts+=("$root$1")
    [ "${2:-}" = ro ] && mount -o remount,bind,ro "$root$1"
    return 0
}

# what bootstrap.sh would install and ccache (a rerun compiles only the kernels that changed: gcc under
# emulation takes minutes a kernel); the suite also needs systemd-analyze and mkfs (bootstrap.sh test
# installs them too)
packages=python3,python3-venv,python3-dev,gcc,libc6-dev,ca-certificates,ccache
[ "$arch" = armhf ] && packages="$packages,python3-numpy"
[ "$what" = test ] && packages="$packages,systemd,e2fsprogs,dosfstools"
if [ ! -e "$root/.stamp-debootstrap" ]; then
    say "debootstrap bookworm into $root (about 10 minutes under emulation)"
    rm -rf "$root"
    mkdir -p "$cache"
    debootstrap --arch="$arch" --variant=minbase --include="$packages" bookworm "$root" "$mirror" >&2
    touch "$root/.stamp-debootstrap"
fi

mkdir -p "$root/proc" "$root/dev" "$root/sys" "$root/tmp"
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bind /dev
mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null && mounts+=("$root/dev/pts") || true
bind /sys ro
mount -t tmpfs tmpfs "$root/tmp"; mounts+=("$root/tmp")
# the host's CA certificates (a proxy's certificate among them) and name resolution, for pip
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/forceplate-host-ca.crt"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

# a fresh copy of the project as it is now (tracked and new files, not .venv, build or compiled output)
src=/build/forceplate
rm -rf "$root$src"
mkdir -p "$root$src"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
    | (cd "$repo" && tar --null -T - -cf - 2>/dev/null) | tar -xf - -C "$root$src"
# the venv lives outside the copy (bootstrap.sh makes it), so that a rerun reinstalls only forceplate; .venv
# in the copy points at it (the tests and the systemd units expect the project's .venv)
ln -s /opt/forceplate-venv "$root$src/.venv"

# a clean environment: nothing of the host's pip configuration, proxies or paths leaks in
in_chroot() {
    env -i HOME=/root LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        TERM=dumb SSL_CERT_FILE=/etc/ssl/certs/forceplate-host-ca.crt \
        PIP_CERT=/etc/ssl/certs/forceplate-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_DEFAULT_TIMEOUT=180 PIP_NO_INPUT=1 \
        ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
        ${FORCEPLATE_TEST_SLOWDOWN:+FORCEPLATE_TEST_SLOWDOWN=$FORCEPLATE_TEST_SLOWDOWN} \
        FORCEPLATE_ARCH_CHROOT="$arch" CC="ccache gcc" CCACHE_DIR=/var/cache/ccache CCACHE_NOHASHDIR=1 \
        chroot "$root" "$@"
}
missing=$(in_chroot dpkg-query -W -f '${Status} ${Package}\n' ${packages//,/ } 2>&1 | grep -v '^install ok installed' \
          | sed -n 's/.* \([a-z0-9.+-]*\)$/\1/p' | tr '\n' ' ' || true)
if [ -n "${missing// /}" ]; then
    say "installing in the chroot: $missing"
    in_chroot apt-get update -qq
    in_chroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# install the way a Pi does (bootstrap.sh; the venv persists in the chroot, so only forceplate rebuilds)
if [ "$what" != bundle ]; then
    start=$(date +%s)
    in_chroot /bin/bash -c "cd $src && VENV=/opt/forceplate-venv BROWSER=0 scripts/bootstrap.sh test" >&2
    say "installed in $(( $(date +%s) - start )) s: $(in_chroot /opt/forceplate-venv/bin/python -c \
        'import platform, struct, numpy; print(platform.machine(), 8 * struct.calcsize("P"), "bit, numpy", numpy.__version__)')"
fi

core_tests="tests/test_rawcodec.py tests/test_rawcodec_reference.py tests/test_kernel.py tests/test_gpio_sampler.py tests/test_emulator.py
    tests/test_timebase.py tests/test_store.py tests/test_traces.py tests/test_hx711_peaks.py tests/test_files.py
    tests/test_sources.py tests/test_simulator.py tests/test_package.py"
pytest=(.venv/bin/python -m pytest -q -p no:cacheprovider)
args=""
[ $# -gt 0 ] && args=$(printf '%q ' "$@")        # the pytest arguments, quoted for the chroot's shell
case "$what" in
    prepare) ;;
    test) in_chroot /bin/bash -c "cd $src && ${pytest[*]} -m 'not browser' $args" ;;
    core) in_chroot /bin/bash -c "cd $src && ${pytest[*]} -m 'not browser' $(echo $core_tests) $args" ;;
    bundle)
        in_chroot /bin/bash -c "cd $src && scripts/make-bundle.sh"
        mkdir -p "$repo/dist"
        cp "$root$src"/dist/forceplate-bundle-*.tar "$repo/dist/"
        say "bundle: $(ls "$repo"/dist/forceplate-bundle-*"$arch"*.tar 2>/dev/null || ls "$repo"/dist/)" ;;
    shell) in_chroot /bin/bash -c "cd $src && exec bash -i" ;;
    *) echo "arch-chroot: unknown step '$what'" >&2; exit 2 ;;
esac

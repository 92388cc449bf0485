#!/usr/bin/env bash
# sudo ./install.sh [--prefix DIR] [--no-service]
# Installs forceplate from this bundle (made by `make bundle`) with nothing downloaded: the Debian packages
# in debs/ the machine lacks (armhf: numpy), a venv in DIR/.venv (default /opt/forceplate) from wheels/, and
# the systemd service (scripts/install-service.sh), enabled and started. --no-service stops before the
# service (for a machine without systemd running). Then open http://<the Pi's name>.local:8080/ for the
# first-start page.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=/opt/forceplate
service=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --no-service) service=0; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run it with sudo"
arch=$(dpkg --print-architecture)
[ "$arch" = "$(cat "$here/ARCH")" ] || die "this bundle is for $(cat "$here/ARCH"), this machine is $arch"
command -v python3 >/dev/null || die "python3 is missing (Raspberry Pi OS has it; apt-get install python3)"
have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$have" = "$(cat "$here/PYTHON")" ] || die "the wheels are for Python $(cat "$here/PYTHON"), this is $have"
(cd "$here" && sha256sum --quiet -c SHA256SUMS) || die "the bundle is damaged (SHA256SUMS do not match)"

# --- Debian packages the machine lacks (armhf: numpy and its BLAS) -------------------------------------
missing=()
for deb in "$here"/debs/*.deb; do
    [ -e "$deb" ] || continue
    pkg=$(dpkg-deb -f "$deb" Package)
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${#missing[@]} Debian packages from the bundle"
    dpkg -i "${missing[@]}" >/dev/null
fi

# --- the venv, from the wheels only ----------------------------------------------------------------------
venv_flags=()
case "$arch" in armhf|armel) venv_flags=(--system-site-packages) ;; esac       # Debian's numpy
mkdir -p "$prefix"
cp -r "$here/scripts" "$here/systemd" "$here/README.md" "$here/LICENSE" "$prefix/"
if [ ! -x "$prefix/.venv/bin/python" ]; then
    python3 -m venv --without-pip "${venv_flags[@]}" "$prefix/.venv"
fi
pip_wheel=$(ls "$here"/wheels/pip-*.whl)
say "installing forceplate and $(($(ls "$here"/wheels/*.whl | wc -l) - 2)) libraries into $prefix/.venv"
"$prefix/.venv/bin/python" "$pip_wheel/pip" install --quiet --no-index --no-cache-dir --disable-pip-version-check \
    --find-links "$here/wheels" --upgrade forceplate
"$prefix/.venv/bin/python" -c 'from forceplate.device import sampling; print("install.sh: sampling kernel:", sampling.KERNEL)' >&2

# --- the service ---------------------------------------------------------------------------------------
if [ "$service" = 0 ]; then
    say "installed; no service (--no-service). Start it by hand: $prefix/.venv/bin/forceplate serve"
elif [ -d /run/systemd/system ]; then
    "$prefix/scripts/install-service.sh"
    say "open http://$(hostname).local:8080/ (or the Pi's address) for the first-start page"
else
    die "systemd is not running here: installed in $prefix, but no service (--no-service skips this step)"
fi

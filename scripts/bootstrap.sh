#!/usr/bin/env bash
# scripts/bootstrap.sh run|test: install everything forceplate needs, idempotently, on Debian 12 /
# Raspberry Pi OS. Called by `make run` and `make test`; safe to run again.
#   run:  Debian packages to build (python3-venv, python3-dev, gcc), .venv, forceplate with its kernel
#   test: the same, plus Debian's chromium and the test packages (BROWSER=0: without chromium, for
#         `pytest -m "not browser"`; 32-bit ARM has no Playwright, so never chromium there)
# On 32-bit Raspberry Pi OS (armhf) numpy is Debian's python3-numpy, seen through a venv made with
# --system-site-packages: PyPI has no armv7l numpy wheel, and building one on a Pi takes hours.
set -euo pipefail
what=${1:-run}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
BROWSER=${BROWSER:-1}
dpkg_arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
venv_flags=()
case "$dpkg_arch" in
    armhf|armel) BROWSER=0; venv_flags=(--system-site-packages) ;;
esac

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------------------------------
apt_pkgs=()
if command -v dpkg >/dev/null 2>&1; then
    pkgs=(python3-venv python3-dev gcc)
    [ ${#venv_flags[@]} -gt 0 ] && pkgs+=(python3-numpy)
    for p in "${pkgs[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || apt_pkgs+=("$p")
    done
    if [ "$what" = test ] && [ "$BROWSER" = 1 ] && [ ! -x /usr/bin/chromium ]; then
        apt_pkgs+=(chromium)
    fi
    if [ "$what" = test ] && ! command -v systemd-analyze >/dev/null 2>&1; then
        apt_pkgs+=(systemd)          # the tests verify the units with systemd-analyze
    fi
    if [ "$what" = test ]; then      # the USB tests mount real ext4 and vfat stick images
        for p in e2fsprogs dosfstools; do          # mkfs.ext4, mkfs.vfat
            dpkg -s "$p" >/dev/null 2>&1 || apt_pkgs+=("$p")
        done
    fi
fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing Debian packages: ${apt_pkgs[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi
if [ "$what" = test ] && [ "$BROWSER" = 1 ] && [ ! -x /usr/bin/chromium ]; then
    say "Debian's chromium is missing (/usr/bin/chromium) and could not be installed"; exit 1
fi

# --- the virtual environment and forceplate -------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $($PYTHON --version 2>&1) ${venv_flags[*]}"
    "$PYTHON" -m venv "${venv_flags[@]}" "$VENV"
fi
extra=""
[ "$what" = test ] && extra="[test]"
say "installing forceplate$extra into $VENV (builds the Cython kernel)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$extra"
"$VENV/bin/python" -c "from forceplate.device import sampling; print('bootstrap: sampling kernel:', sampling.KERNEL)" >&2

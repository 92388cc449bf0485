#!/usr/bin/env bash
# scripts/make-bundle.sh: the offline install bundle for this machine's architecture, in dist/:
#   forceplate-bundle-VERSION-ARCH.tar  (one folder: install.sh, wheels/, debs/, scripts/, systemd/)
# Run on the target architecture with Debian 12's Python 3.11: `make bundle` runs it in the arm64 and armhf
# chroots of scripts/arch-chroot.sh. The wheels are forceplate's (its kernels compiled here) and those of
# everything it needs at run time, plus pip's, so that install.sh installs with nothing downloaded. On armhf
# numpy is Debian's python3-numpy (PyPI has no armv7l wheel): its .deb and those of its libraries ship in
# debs/, and install.sh installs the ones the Pi lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(dpkg --print-architecture)
python=${PYTHON:-python3}
version=$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
name="forceplate-bundle-$version-$arch"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
mkdir -p "$stage/wheels" "$stage/debs" dist
say() { printf 'make-bundle(%s): %s\n' "$arch" "$*" >&2; }

venv_flags=()
case "$arch" in armhf|armel) venv_flags=(--system-site-packages) ;; esac
say "building forceplate's wheel (its kernels compiled here), then what it needs at run time in a clean venv"
"$python" -m venv "${venv_flags[@]}" "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$stage/wheels" .
"$work/venv/bin/python" -m pip install --quiet "$stage"/wheels/forceplate-*.whl
# --local: not the system's packages a --system-site-packages venv sees (numpy on armhf comes as a .deb);
# --all: pip (install.sh runs it from its wheel) and setuptools (colorzero, under gpiozero, imports it)
"$work/venv/bin/python" -m pip freeze --all --local --exclude forceplate > "$work/requirements.txt"
say "wheels: $(tr '\n' ' ' < "$work/requirements.txt")"
"$work/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$stage/wheels" -r "$work/requirements.txt"

if [ ${#venv_flags[@]} -gt 0 ]; then
    # python3-numpy and the libraries it needs beyond python3 itself (install.sh installs the missing ones)
    debs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
               --no-enhances python3-numpy | grep -E '^[a-z0-9]' | sort -u)
    skip=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
               --no-enhances python3 | grep -E '^[a-z0-9]' | sort -u)
    wanted=()       # of the alternatives (libblas3 | libopenblas0-*, ...), those apt chose here
    for p in $(comm -23 <(echo "$debs") <(echo "$skip") | grep -v ':any$'); do
        if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then wanted+=("$p"); fi
    done
    say "Debian packages: ${wanted[*]}"
    (cd "$stage/debs" && apt-get -o APT::Sandbox::User=root download "${wanted[@]}" >/dev/null)
fi

cp scripts/bundle-install.sh "$stage/install.sh"
mkdir -p "$stage/scripts"
cp scripts/install-service.sh "$stage/scripts/"
cp -r systemd README.md LICENSE "$stage/"
echo "$arch" > "$stage/ARCH"
"$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' > "$stage/PYTHON"
(cd "$stage" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
tar -C "$work" -cf "dist/$name.tar" "$name"
say "dist/$name.tar: $(du -h "dist/$name.tar" | cut -f1), $(ls "$stage/wheels" | wc -l) wheels, $(ls "$stage/debs" | wc -l) .deb"

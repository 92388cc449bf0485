#!/usr/bin/env bash
# sudo scripts/install-service.sh [--user NAME] [--uninstall] [--dest DIR]
# Installs forceplate as a systemd service on Raspberry Pi OS: a system user (in the gpio group), the
# unit (from systemd/forceplate.service.in, pointing at this checkout's .venv), enabled and started; and the
# USB export: the template unit forceplate-usb-export@.service and the udev rule that starts it when a
# stick is plugged in (docs/usb-export.md). Run `make install` first so that .venv holds forceplate.
# --dest writes the units and the rule there and stops (no systemctl, no user): for checking them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
user=forceplate
dest=/etc/systemd/system
render_only=0
uninstall=0
while [ $# -gt 0 ]; do
    case "$1" in
        --user) user=$2; shift 2 ;;
        --dest) dest=$2; render_only=1; shift 2 ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "install-service: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
unit="$dest/forceplate.service"
usb_unit="$dest/forceplate-usb-export@.service"
rules_dest=/etc/udev/rules.d
[ "$render_only" = 1 ] && rules_dest=$dest
rule="$rules_dest/99-forceplate-usb.rules"

if [ "$uninstall" = 1 ]; then
    systemctl disable --now forceplate.service 2>/dev/null || true
    rm -f "$unit" "$usb_unit" "$rule"
    systemctl daemon-reload
    udevadm control --reload 2>/dev/null || true
    echo "install-service: removed $unit, $usb_unit and $rule (the data in /var/lib/forceplate is kept)"
    exit 0
fi
if [ "$render_only" = 0 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "install-service: run it with sudo" >&2; exit 2; }
    [ -x "$root/.venv/bin/forceplate" ] || { echo "install-service: $root/.venv/bin/forceplate is missing: run make install first" >&2; exit 2; }
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/forceplate --shell /usr/sbin/nologin "$user"
    fi
    getent group gpio >/dev/null && usermod -a -G gpio "$user"
fi
mkdir -p "$dest"
groups_filter=cat
if [ "$render_only" = 0 ] && ! getent group gpio >/dev/null; then
    groups_filter="grep -v ^SupplementaryGroups=gpio"      # not a Pi: no gpio group to join
fi
sed -e "s|@ROOT@|$root|g" -e "s|@USER@|$user|g" systemd/forceplate.service.in | $groups_filter > "$unit"
echo "install-service: wrote $unit"
sed -e "s|@ROOT@|$root|g" -e "s|@USER@|$user|g" "systemd/forceplate-usb-export@.service.in" > "$usb_unit"
mkdir -p "$rules_dest"
cp systemd/99-forceplate-usb.rules "$rule"
echo "install-service: wrote $usb_unit and $rule (USB sticks get new sessions when plugged in)"
if [ "$render_only" = 0 ]; then
    systemctl daemon-reload
    udevadm control --reload 2>/dev/null || true
    systemctl enable --now forceplate.service
    echo "install-service: forceplate is running; see: systemctl status forceplate; journalctl -u forceplate"
fi

"""Export to a USB stick: every session not yet on that stick, as docs/contracts.md section 2 files, losing nothing.

Layout on the stick::

    forceplate-exports/
      .forceplate-stick                      this stick's id (made on its first export)
      Ann Example/2026-03-01-session-12.csv  t_s + one *_n column per load cell (``forceplate analyze`` reads it)
      Ann Example/2026-03-01-session-12.json its metadata, events and the analyze command (its "csv" names the CSV)

What went to which stick is kept in the store's settings (``usb_exported:<stick id>``), so a second stick gets
everything and a stick that was plugged in before gets only what is new. Sessions still recording wait.

Nothing is lost: each file is written under a temporary name, flushed to the stick (fsync) and renamed; a
session counts as exported only when both its files are in place. A full stick (ENOSPC, EFBIG) or a pulled
one (EIO, the folder gone, another filesystem at the mount point) stops the export with
:class:`UsbExportError`, the partial file removed and the database as it was; the next run continues with the
session that failed. The database is only read, apart from that one setting.

Test-only hook: ``FORCEPLATE_USB_TEST_FAULT=eio@N`` makes the N-th block this module writes to the stick (each
session's JSON; the CSV is written by ``export.export_session``) fail with EIO, as a pulled stick does. It exists
so tests can pull a stick mid-session in a real subprocess; do not set it otherwise.
"""
from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..exc import ForcePlateError
from .files import fsync_folder, write_file_atomically

EXPORT_FOLDER = "forceplate-exports"
STICK_ID_FILE = ".forceplate-stick"
INCOMING = ".incoming"         # export_session writes here on the stick; renamed into place from here
SETTING_PREFIX = "usb_exported:"
BLOCK_BYTES = 64 * 1024
TEST_FAULT_ENV = "FORCEPLATE_USB_TEST_FAULT"       # test-only, see the module docstring

_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_GONE = {errno.EIO, errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ESTALE, errno.ENOTDIR, errno.ESHUTDOWN}


class UsbExportError(ForcePlateError):
    """The stick filled up, went away or refused writing mid-export; the message says what was kept."""


@dataclass
class ExportResult:
    folder: Path
    stick_id: str
    written: list = field(default_factory=list)        # (session id, csv path, json path)
    already: int = 0                                   # sessions this stick had from before
    waiting: int = 0                                   # sessions still recording

    def summary(self) -> str:
        parts = [f"{self.already} already on this stick"] if self.already else []
        if self.waiting:
            parts.append(f"{self.waiting} still recording (exported next time)")
        extra = f" ({', '.join(parts)})" if parts else ""
        n = len(self.written)
        return f"Exported {n} session{'s' if n != 1 else ''} to {self.folder}{extra}."


def export_to_stick(store, mount_point, *, progress=None) -> ExportResult:
    """Write every finished session not yet on the stick at ``mount_point``; see the module docstring.

    ``progress(path)`` is called with each file once it is in place. Raises ForcePlateError when
    ``mount_point`` is not a folder, UsbExportError when the stick fills up or goes away.
    """
    mount = Path(mount_point)
    if not mount.is_dir():
        raise ForcePlateError(f"{mount} is not a folder: is the USB stick mounted there?")
    stick = _Stick(mount)
    root = mount / EXPORT_FOLDER
    result = ExportResult(root, "")
    stick.guard("prepare the stick", lambda: _prepare(root))
    result.stick_id = stick.guard("read the stick's id", lambda: _stick_id(root))
    key = SETTING_PREFIX + result.stick_id
    exported = set(store.setting(key, []))
    todo = []
    for session in store.sessions():
        if session["id"] in exported:
            result.already += 1
        elif session["status"] == "recording":
            result.waiting += 1
        else:
            todo.append(session)
    for session in todo:
        try:
            _export_one(store, session, root, stick, result, progress)
        except UsbExportError as exc:
            try:
                _tidy(root)                    # best effort: the stick may be gone
            except OSError:
                pass
            left = len(todo) - len(result.written)
            raise UsbExportError(f"{exc}; {len(result.written)} of {len(todo)} sessions were exported, "
                                 f"{left} will follow when you run the export again") from None
        exported.add(session["id"])
        store.set_setting(key, sorted(exported))
    stick.guard("tidy up", lambda: _tidy(root))
    return result


def _export_one(store, session, root: Path, stick, result, progress):
    from .export import export_session
    from .store import StoreError

    session_id = session["id"]
    incoming = root / INCOMING
    folder = root / folder_name(session["person"], session.get("person_id"))
    stem = f"{_local_date(session['started_at'])}-session-{session_id}"
    csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
    doing = f"write {folder.name}/{csv_path.name}"
    stick.check(doing)
    if not incoming.is_dir():              # gone: never let export_session re-create it below the mount point
        raise UsbExportError(f"the USB stick at {stick.mount} went away while trying to {doing}")
    try:                                   # whole files under temporary names, fsynced, renamed (export.py)
        csv_tmp, json_tmp = export_session(store, session_id, incoming)
    except StoreError as exc:
        cause = exc.__context__            # export_session says "cannot write ...: <reason>"; the errno is here
        if isinstance(cause, OSError):
            raise stick.error(cause, doing) from None
        stick.check(doing)
        raise
    try:
        meta = json.loads(json_tmp.read_text(encoding="utf-8"))
        meta["analyze"] = meta.get("analyze", "").replace(csv_tmp.name, csv_path.name)
        meta["csv"] = csv_path.name
        stick.guard(f"make {folder.name}", lambda: _mkdir(folder, root))
        stick.guard(doing, lambda: (os.replace(csv_tmp, csv_path), fsync_folder(folder)))
        try:
            stick.write(json_path, (json.dumps(meta, indent=1, allow_nan=False) + "\n").encode("utf-8"))
        except UsbExportError:
            try:                # a session lands as a pair or not at all (best effort: the stick may be gone)
                csv_path.unlink()
            except OSError:
                pass
            raise
    except OSError as exc:
        raise stick.error(exc, doing) from None
    finally:
        for leftover in (csv_tmp, json_tmp):
            try:
                leftover.unlink()
            except OSError:
                pass
    result.written.append((session_id, csv_path, json_path))
    if progress is not None:
        progress(csv_path)
        progress(json_path)


class _Stick:
    """Writes to one mounted stick, noticing when it fills up or is no longer there."""

    def __init__(self, mount: Path):
        self.mount = mount
        self.device = os.stat(mount).st_dev
        self.blocks = 0
        fault = os.environ.get(TEST_FAULT_ENV, "")
        match = re.fullmatch(r"eio@(\d+)", fault.strip())
        self.fail_at_block = int(match.group(1)) if match else None

    def check(self, doing: str) -> None:
        try:
            same = os.stat(self.mount).st_dev == self.device
        except OSError:
            same = False
        if not same:
            raise UsbExportError(f"the USB stick at {self.mount} went away while trying to {doing}")

    def guard(self, doing: str, action):
        self.check(doing)
        try:
            return action()
        except OSError as exc:
            raise self.error(exc, doing) from None

    def write(self, target: Path, data: bytes) -> None:
        """Write a whole file (see files.write_file_atomically) in blocks; on failure the partial file is
        removed and the error says whether the stick is full or gone."""
        doing = f"write {target.parent.name}/{target.name}"
        self.check(doing)
        try:
            write_file_atomically(target, self._blocks(data), mode=0o644, before_replace=lambda: self.check(doing))
        except OSError as exc:
            raise self.error(exc, doing) from None

    def _blocks(self, data: bytes):
        for i in range(0, len(data), BLOCK_BYTES):
            self.blocks += 1
            if self.fail_at_block is not None and self.blocks >= self.fail_at_block:
                raise OSError(errno.EIO, os.strerror(errno.EIO) + f" ({TEST_FAULT_ENV})")
            yield data[i:i + BLOCK_BYTES]

    def error(self, exc: OSError, doing: str) -> UsbExportError:
        reason = exc.strerror or str(exc)
        if exc.errno in _FULL:
            return UsbExportError(f"the USB stick at {self.mount} is full ({reason}) while trying to {doing}: "
                                  "the partial file was removed; free some space or use a bigger stick")
        if exc.errno in _GONE:
            return UsbExportError(f"the USB stick at {self.mount} went away while trying to {doing} ({reason}): "
                                  "the partial file was removed; plug it in again")
        if exc.errno == errno.EROFS:
            return UsbExportError(f"the USB stick at {self.mount} is read-only: slide its write-protect switch "
                                  "off, or check it on a computer")
        return UsbExportError(f"cannot {doing} on the USB stick at {self.mount}: {reason}")


def _prepare(root: Path) -> None:
    """Make the export folder; remove temporary files a previous, interrupted export left behind."""
    root.mkdir(exist_ok=True)
    _tidy(root)
    (root / INCOMING).mkdir()


def _tidy(root: Path) -> None:
    for leftover in root.glob("**/.*.tmp"):
        leftover.unlink()
    incoming = root / INCOMING
    if incoming.is_dir():
        for leftover in incoming.iterdir():
            leftover.unlink()
        incoming.rmdir()


def _stick_id(root: Path) -> str:
    path = root / STICK_ID_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
        if re.fullmatch(r"[0-9a-f]{32}", text):
            return text
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    new = uuid.uuid4().hex
    write_file_atomically(path, new + "\n", mode=0o644)
    return new


def _mkdir(folder: Path, root: Path) -> None:
    if not root.is_dir():                     # never re-create the export folder mid-run: the stick is gone
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(root))
    folder.mkdir(exist_ok=True)


_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


def folder_name(person: str, person_id=None) -> str:
    """A folder name FAT, exFAT and NTFS accept: no <>:"/\\|?*, no control characters, no trailing dots."""
    name = _UNSAFE.sub("_", str(person or "")).strip().rstrip(". ")
    if not name or name.upper() in {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                                    *(f"LPT{i}" for i in range(1, 10))}:
        name = f"person-{person_id}" if person_id is not None else f"person-{name or 'unnamed'}"
    return name[:100]


def _local_date(started_at: str) -> str:
    when = _dt.datetime.fromisoformat(started_at)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone().date().isoformat()


__all__ = ["EXPORT_FOLDER", "ExportResult", "UsbExportError", "export_to_stick", "folder_name"]

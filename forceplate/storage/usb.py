"""Export to a USB stick: every session not yet on that stick, as docs/contracts.md section 2 files, losing nothing.

Layout on the stick::

    forceplate-exports/
      .forceplate-stick                               this stick's id (made on its first export)
      Ann Example (id 4)/2026-03-01-session-12.csv    t_s + one *_n column per load cell (``forceplate analyze``)
      Ann Example (id 4)/2026-03-01-session-12.json   its metadata, events and the analyze command ("csv" names the CSV)

What went to which stick is kept in the store's settings (``usb_exported:<stick id>``), so a second stick gets
everything and a stick that was plugged in before gets only what is new. Sessions still recording wait.

The stick is hostile until shown otherwise: anyone can hand the plate a prepared one. The export writes only to a
mounted filesystem other than the data's; it resolves nothing on the stick by path (every step is an ``*at()``
call on a folder it opened with O_NOFOLLOW, or made itself), and it refuses a stick with a symlink, or something
other than a plain file or folder, where the export keeps its files, before writing anything. Folder names come
from :func:`folder_name`, safe by construction.

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
import stat
import unicodedata
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
NAME_BYTES = 100               # a person's part of a folder name, in UTF-8 bytes (ext4 allows 255 in all)
TEST_FAULT_ENV = "FORCEPLATE_USB_TEST_FAULT"       # test-only, see the module docstring

_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_GONE = {errno.EIO, errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ESTALE, errno.ENOTDIR, errno.ESHUTDOWN}
# a folder on the stick: never through a symlink, never a FIFO's open that blocks
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP = re.compile(r"\..+\.tmp")                    # write_file_atomically's temporary names


class UsbExportError(ForcePlateError):
    """The stick filled up, went away or refused writing mid-export; the message says what was kept."""


class UnsafeStickError(ForcePlateError):
    """The mount point holds no stick, or the stick is laid out as the export never makes it (a symlink where the
    export keeps its files): refused before writing there; the message says what was kept."""


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
    ``mount_point`` is not a folder, UnsafeStickError when nothing is mounted there, the mount point is on the
    data's disk or the stick's layout is not the export's (refused before writing there), UsbExportError when
    the stick fills up or goes away.
    """
    mount = Path(mount_point)
    if not mount.is_dir():
        raise ForcePlateError(f"{mount} is not a folder: is the USB stick mounted there?")
    # an unmounted stick leaves its bare mount point on the SD card: sessions written there are lost to the
    # clinic and fill the card that holds the data
    if not os.path.ismount(mount):
        raise UnsafeStickError(f"{mount} is not a mount point: is the USB stick mounted there? Nothing was written")
    try:
        stick = _Stick(mount)
    except OSError as exc:
        raise UsbExportError(f"the USB stick at {mount} went away before the export began "
                             f"({exc.strerror or exc}); nothing was written") from None
    with stick:
        if stick.device == os.stat(Path(store.path).parent).st_dev:
            raise UnsafeStickError(f"{mount} is on the disk that holds the data, not on a USB stick: "
                                   "nothing was written")
        return _export(store, stick, progress)


def _export(store, stick: _Stick, progress) -> ExportResult:
    result = ExportResult(stick.mount / EXPORT_FOLDER, "")
    stick.guard("prepare the stick", stick.prepare)
    result.stick_id = stick.guard("read the stick's id", stick.stick_id)
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
            _export_one(store, session, stick, result, progress)
        except UsbExportError as exc:
            try:
                stick.tidy_incoming()          # best effort: the stick may be gone
            except (OSError, ForcePlateError):
                pass
            left = len(todo) - len(result.written)
            raise UsbExportError(f"{exc}; {len(result.written)} of {len(todo)} sessions were exported, "
                                 f"{left} will follow when you run the export again") from None
        exported.add(session["id"])
        store.set_setting(key, sorted(exported))
    stick.guard("tidy up", stick.tidy_incoming)
    return result


def _export_one(store, session, stick: _Stick, result, progress):
    from .export import export_session
    from .store import StoreError

    session_id = session["id"]
    name = folder_name(session["person"], session.get("person_id"))
    stem = f"{_local_date(session['started_at'])}-session-{session_id}"
    csv_name, json_name = f"{stem}.csv", f"{stem}.json"
    doing = f"write {name}/{csv_name}"
    stick.check(doing)
    try:
        # into the .incoming folder the export made and holds open, whatever the names on the stick point to
        csv_tmp, json_tmp = export_session(store, session_id, stick.mount / EXPORT_FOLDER / INCOMING,
                                           dir_fd=stick.incoming)
    except StoreError as exc:
        cause = exc.__context__            # export_session says "cannot write ...: <reason>"; the errno is here
        if isinstance(cause, OSError):
            raise stick.error(cause, doing) from None
        stick.check(doing)
        raise
    folder = None
    try:
        meta = json.loads(_read_file(stick.incoming, json_tmp.name))
        meta["analyze"] = meta.get("analyze", "").replace(csv_tmp.name, csv_name)
        meta["csv"] = csv_name
        folder = stick.guard(f"make {name}", lambda: stick.person_folder(name))
        stick.guard(doing, lambda: stick.check_target(folder, name, (csv_name, json_name)))
        stick.guard(doing, lambda: (os.replace(csv_tmp.name, csv_name, src_dir_fd=stick.incoming,
                                               dst_dir_fd=folder), fsync_folder(folder)))
        try:
            stick.write(folder, f"{name}/{json_name}", json_name,
                        (json.dumps(meta, indent=1, allow_nan=False) + "\n").encode("utf-8"))
        except UsbExportError:
            try:                # a session lands as a pair or not at all (best effort: the stick may be gone)
                os.unlink(csv_name, dir_fd=folder)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise stick.error(exc, doing) from None
    finally:
        for leftover in (csv_tmp.name, json_tmp.name):
            try:
                os.unlink(leftover, dir_fd=stick.incoming)
            except OSError:
                pass
        if folder is not None:
            os.close(folder)
    stick.sessions_written += 1
    csv_path = stick.mount / EXPORT_FOLDER / name / csv_name
    json_path = csv_path.with_name(json_name)
    result.written.append((session_id, csv_path, json_path))
    if progress is not None:
        progress(csv_path)
        progress(json_path)


class _Stick:
    """One mounted stick: its folders, held open, and the checks that it is still the same stick and safe.

    Every folder below the mount point is opened with O_NOFOLLOW and used only through its descriptor (the
    ``dir_fd`` of each call), so a symlink on the stick can never lead a write, a rename or an unlink off it.
    """

    def __init__(self, mount: Path):
        self.mount = mount
        self.mount_fd = os.open(mount, _DIR)
        try:
            self.device = os.fstat(self.mount_fd).st_dev
        except OSError:
            os.close(self.mount_fd)
            raise
        self.root = self.incoming = None
        self.opened: list[int] = []
        self.sessions_written = 0
        self.blocks = 0
        fault = os.environ.get(TEST_FAULT_ENV, "")
        match = re.fullmatch(r"eio@(\d+)", fault.strip())
        self.fail_at_block = int(match.group(1)) if match else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for fd in (*self.opened, self.incoming, self.root, self.mount_fd):
            if fd is not None:
                os.close(fd)

    # ------------------------------------------------------------------ the layout the export makes

    def prepare(self) -> None:
        """Open (or make) the export folder, check everything in it the export would touch, then remove what
        an interrupted export left behind and make a fresh .incoming folder. A refusal comes before any write."""
        self.root = self._folder(self.mount_fd, EXPORT_FOLDER, f"{self.mount}/{EXPORT_FOLDER}")
        leftovers = [(self.root, name) for name in self._check_folder(self.root, EXPORT_FOLDER)]
        with os.scandir(self.root) as entries:
            person_folders = [entry.name for entry in entries
                              if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")]
        try:
            for name in person_folders:
                fd = self._folder(self.root, name, f"{EXPORT_FOLDER}/{name}", create=False)
                self.opened.append(fd)
                leftovers += [(fd, leftover) for leftover in self._check_folder(fd, f"{EXPORT_FOLDER}/{name}")]
            incoming = self._incoming_files()
            for fd, name in leftovers:
                os.unlink(name, dir_fd=fd)
        finally:
            while self.opened:         # one descriptor per person would run out on a stick with thousands
                os.close(self.opened.pop())
        self._remove_incoming(incoming)
        os.mkdir(INCOMING, dir_fd=self.root)
        self.incoming = self._folder(self.root, INCOMING, f"{EXPORT_FOLDER}/{INCOMING}", create=False)

    def _check_folder(self, fd: int, where: str) -> list[str]:
        """Refuse a symlink in the folder, or a stick id that is not a plain file; return its temporary files."""
        leftovers = []
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_symlink():
                    raise self.unsafe(f"{where}/{entry.name} is a symlink")
                if entry.name == STICK_ID_FILE and not entry.is_file(follow_symlinks=False):
                    raise self.unsafe(f"{where}/{entry.name} is not a plain file")
                if _TMP.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                    leftovers.append(entry.name)
        return leftovers

    def _incoming_files(self):
        """The .incoming folder an earlier export left, opened, and its files: plain files only, which is all
        the export puts there. None when there is none."""
        try:
            fd = self._folder(self.root, INCOMING, f"{EXPORT_FOLDER}/{INCOMING}", create=False)
        except FileNotFoundError:
            return None
        try:
            with os.scandir(fd) as entries:
                names = [entry.name for entry in entries]
            for name in names:
                if not stat.S_ISREG(os.lstat(name, dir_fd=fd).st_mode):
                    raise self.unsafe(f"{EXPORT_FOLDER}/{INCOMING}/{name} is not a plain file")
        except BaseException:
            os.close(fd)
            raise
        return fd, names

    def _remove_incoming(self, incoming) -> None:
        if incoming is None:
            return
        fd, names = incoming
        try:
            for name in names:
                os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
        os.rmdir(INCOMING, dir_fd=self.root)

    def tidy_incoming(self) -> None:
        """Empty and remove .incoming (at the end, or after a failure)."""
        if self.incoming is not None:
            os.close(self.incoming)
            self.incoming = None
        self._remove_incoming(self._incoming_files())

    def person_folder(self, name: str) -> int:
        """The person's folder, opened (made if new); the caller closes it."""
        return self._folder(self.root, name, f"{EXPORT_FOLDER}/{name}")

    def check_target(self, folder: int, name: str, files) -> None:
        """The names a session is about to take are free or plain files (an earlier export of it)."""
        for file in files:
            try:
                st = os.lstat(file, dir_fd=folder)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                raise self.unsafe(f"{EXPORT_FOLDER}/{name}/{file} is not a plain file")

    def stick_id(self) -> str:
        try:
            text = _read_file(self.root, STICK_ID_FILE).decode("ascii").strip()
            if re.fullmatch(r"[0-9a-f]{32}", text):
                return text
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        new = uuid.uuid4().hex
        write_file_atomically(STICK_ID_FILE, new + "\n", mode=0o644, dir_fd=self.root)
        return new

    def _folder(self, parent: int, name: str, where: str, *, create: bool = True) -> int:
        """Open the real folder ``name`` in ``parent`` (made if missing and ``create``); refuse anything else."""
        if create:
            try:
                os.mkdir(name, dir_fd=parent)
            except FileExistsError:
                pass
        try:
            fd = os.open(name, _DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):      # a symlink (O_NOFOLLOW), or not a folder
                raise self.unsafe(f"{where} is a symlink or not a folder") from None
            raise
        if os.fstat(fd).st_dev != self.device:                 # another filesystem mounted inside the stick
            os.close(fd)
            raise self.unsafe(f"{where} is on another filesystem")
        return fd

    def unsafe(self, what: str) -> UnsafeStickError:
        n = self.sessions_written
        kept = (f"the {n} session{'s' if n != 1 else ''} exported before it are complete" if n
                else "nothing was written")
        return UnsafeStickError(f"refused the USB stick at {self.mount}: {what}, which the export never makes; "
                                f"{kept} (check the stick on a computer, or use another)")

    # ------------------------------------------------------------------ a full or pulled stick

    def check(self, doing: str) -> None:
        """The mount point still holds this stick, and the export folder is still the one held open."""
        try:
            same = os.stat(self.mount).st_dev == self.device
            if same and self.root is not None:
                now, held = os.lstat(EXPORT_FOLDER, dir_fd=self.mount_fd), os.fstat(self.root)
                same = (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)
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

    def write(self, folder: int, shown: str, name: str, data: bytes) -> None:
        """Write a whole file (see files.write_file_atomically) in blocks; on failure the partial file is
        removed and the error says whether the stick is full or gone."""
        doing = f"write {shown}"
        self.check(doing)
        try:
            write_file_atomically(name, self._blocks(data), mode=0o644, dir_fd=folder,
                                  before_replace=lambda: self.check(doing))
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
        if exc.errno in (errno.EACCES, errno.EPERM):
            return UsbExportError(f"cannot {doing} on the USB stick at {self.mount}: {reason} (the plate's user "
                                  f"may not write there: use a FAT or exFAT stick, or make a {EXPORT_FOLDER} "
                                  "folder it may write to)")
        return UsbExportError(f"cannot {doing} on the USB stick at {self.mount}: {reason}")


def _read_file(folder: int, name: str, limit: int = 1 << 20) -> bytes:
    """A plain file in an open folder, never through a symlink, never blocking on a FIFO."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeStickError(f"{name} on the USB stick is not a plain file; nothing was written")
        return os.read(fd, limit)
    finally:
        os.close(fd)


# FAT, exFAT and NTFS refuse <>:"/\|?*; control and format characters (and lone surrogates) are
# invisible or mangled in a file manager
_UNSAFE = re.compile(r'[<>:"/\\|?*]')


def folder_name(person: str, person_id=None) -> str:
    """A person's folder on the stick: their name made safe, then ``(id N)``: "Ann Example (id 4)".

    Safe by construction on every filesystem a stick has: no leading dot (nothing hidden, no clash with the
    export's own ``.incoming`` and ``.forceplate-stick``), no path separator, none of <>:"/\\|?*, no control
    characters, no trailing dot or space (Windows drops them), at most NAME_BYTES UTF-8 bytes of the name,
    cut between characters. The id keeps two people with the same (or a cut) name apart, and a renamed
    person's next sessions are told apart from another's.
    """
    name = "".join("_" if unicodedata.category(ch)[0] == "C" else ch for ch in str(person or ""))
    name = " ".join(_UNSAFE.sub("_", name).split()).lstrip(". ")
    raw = name.encode("utf-8")[:NAME_BYTES]
    name = raw.decode("utf-8", errors="ignore").rstrip(". ") or "person"
    return name if person_id is None else f"{name} (id {int(person_id)})"


def _local_date(started_at: str) -> str:
    when = _dt.datetime.fromisoformat(started_at)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone().date().isoformat()


__all__ = ["EXPORT_FOLDER", "ExportResult", "UnsafeStickError", "UsbExportError", "export_to_stick",
           "folder_name"]

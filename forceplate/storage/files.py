"""Writing a whole file so that a reader, a crash or a power cut sees the old file or the new one, never half.

Every file forceplate writes outside the database (exports, the clinic password, files on a USB stick) goes
through :func:`write_file_atomically`.
"""
from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path


PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_folder(folder) -> Path:
    """Make ``folder`` (and any missing parent) if missing; a folder made here is 0700 whatever the umask.

    The data folder holds names and T-scores: another local account must not even list it. A folder that
    already exists is left as its owner set it."""
    folder = Path(folder)
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(folder, PRIVATE_FOLDER_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder", str(folder)) from None
        else:
            os.chmod(folder, PRIVATE_FOLDER_MODE)      # the umask may have taken bits; never added any
    return folder


def create_private_file(path) -> bool:
    """Create ``path`` empty and 0600 (whatever the umask) if it does not exist; True if it was made here.

    SQLite gives a database's -wal and -shm files the database file's own mode, so a database file made
    0600 here keeps its journal private too."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_file_atomically(path, data: bytes | str | Iterable[bytes], *, mode: int = 0o666,
                          before_replace: Callable[[], None] | None = None, dir_fd: int | None = None) -> Path:
    """Write ``data`` to ``path`` under a temporary name beside it, fsync it, rename it over ``path`` and fsync
    the folder. On any failure the temporary file is removed and the exception raised; ``path`` is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder must exist.
    data : bytes, str or iterable of bytes
        The contents: text is written as UTF-8 with its newlines as they are; an iterable is written block by
        block (a caller can then fail or stop between blocks).
    mode : int
        Permission bits of the new file, less the umask (as ``open()``); ``0o600`` keeps a secret private
        from the moment the file exists, not only after a chmod.
    before_replace : callable, optional
        Called after the data is on disk and before the rename; raising there leaves ``path`` as it was (a
        USB stick checks that it is still the same stick).
    dir_fd : int, optional
        An open folder; ``path`` is then a bare name in it. Nothing is resolved by path, so a symlink
        elsewhere on the way (a hostile USB stick) cannot redirect the write.

    Returns the path written.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    blocks = (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data
    # a name of our own: two writers of the same file never share a temporary file
    tmp_name = f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    tmp, target = (tmp_name, path.name) if dir_fd is not None else (path.with_name(tmp_name), path)
    # O_EXCL already refuses an existing name, a symlink included; O_NOFOLLOW says so where it exists
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, mode, dir_fd=dir_fd)
    try:
        try:
            for block in blocks:
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    fsync_folder(path.parent if dir_fd is None else dir_fd)
    return path


def fsync_folder(folder) -> None:
    """Make a rename or a new entry in ``folder`` durable. Filesystems that cannot fsync a folder (vfat may
    refuse with EINVAL) are left as they are; any other error is raised (a stick that went away).
    ``folder`` may be an open folder's descriptor (left open)."""
    if isinstance(folder, int):
        _fsync_tolerant(folder)
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        _fsync_tolerant(fd)
    finally:
        os.close(fd)


def _fsync_tolerant(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise

"""write_file_atomically: a reader sees the old file or the new one, never half, and nothing is left behind."""
import os
import stat

import pytest

from forceplate.storage.files import write_file_atomically


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def test_text_lands_as_utf8_with_its_newlines_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_bytes(b"old")
    write_file_atomically(path, "t_s,fz_n\r\n0.0,\u00e9\n")
    assert path.read_bytes() == b"t_s,fz_n\r\n0.0,\xc3\xa9\n"       # no newline translation, UTF-8
    assert leftovers(tmp_path, "trace.csv") == []


def test_blocks_are_written_in_order(tmp_path):
    path = tmp_path / "blocks.bin"
    write_file_atomically(path, iter([b"ab", b"", b"cde"]))
    assert path.read_bytes() == b"abcde"


def test_a_secret_is_never_readable_by_others_even_with_a_lax_umask(tmp_path):
    path = tmp_path / "auth.json"
    old = os.umask(0o000)
    try:
        write_file_atomically(path, b"{}", mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_default_mode_is_as_open_gives_less_the_umask(tmp_path):
    path = tmp_path / "export.json"
    old = os.umask(0o027)
    try:
        write_file_atomically(path, b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_failure_mid_write_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    path = tmp_path / "session.json"
    path.write_text("old")

    def blocks():
        yield b"new, half"
        raise OSError(5, "Input/output error")
    with pytest.raises(OSError, match="Input/output error"):
        write_file_atomically(path, blocks())
    assert path.read_text() == "old"
    assert leftovers(tmp_path, "session.json") == []


def test_a_veto_before_the_rename_keeps_the_old_file(tmp_path):
    path = tmp_path / "session.json"
    path.write_text("old")

    class StickGone(Exception):
        pass

    def veto():
        assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())     # the data is written by now
        raise StickGone
    with pytest.raises(StickGone):
        write_file_atomically(path, b"new", before_replace=veto)
    assert path.read_text() == "old"
    assert leftovers(tmp_path, "session.json") == []


def test_a_missing_folder_is_an_error_not_a_new_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_file_atomically(tmp_path / "gone" / "x.csv", "x")
    assert not (tmp_path / "gone").exists()

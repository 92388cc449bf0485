"""`forceplate export-usb`: every session not yet on the stick, whole files only, nothing lost when the stick
fills up or is pulled, and nothing on the data disk touched whatever the stick holds. Full and pulled sticks
are played by real processes: a small tmpfs mounted as the stick, EIO through the module's test-only hook,
the folder removed or the stick unmounted between two sessions. Hostile sticks are real loop-mounted ext4
images (and vfat where the kernel has it). The export only writes to a mount point, so these tests mount; that
needs root, which the project's machines and CI have (elsewhere they skip, saying so).
"""
import contextlib
import csv
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forceplate.device.frames import Frames
from forceplate.storage.store import Store
from forceplate.storage.usb import (EXPORT_FOLDER, STICK_ID_FILE, UnsafeStickError, UsbExportError, export_to_stick,
                                    folder_name)

CELLS = ["fz1_n", "fz2_n", "fz3_n", "fz4_n"]
SETS = 6000                    # 75 s at 80 SPS: a CSV of about 290 kB (the first session: a third of that)


def add_session(store, person, *, seed, status="complete", sets=SETS):
    rng = np.random.default_rng(seed)
    person_id = store.person_id_for(person, changed_by="test")
    session_id = store.start_session(person_id, source="sim:test", rate_hz=80.0, adc="hx711", cells=CELLS,
                                     offset_counts=[1000.0] * 4, scale_n_per_count=[0.003] * 4, clock_origin_ns=0)
    t_ns = np.arange(1, sets + 1, dtype=np.int64) * 12_500_000
    counts = (1000 + rng.normal(50_000, 3_000, (sets, 4))).astype(np.int32)
    store.add_raw_chunk(session_id, Frames(t_ns, counts, np.zeros((sets, 4), np.uint8)))
    if status != "recording":
        store.end_session(session_id, status=status)
    return session_id


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    with Store(folder) as store:
        add_session(store, "Ann Example", seed=1, sets=SETS // 3)
        add_session(store, "Bob", seed=2)
        add_session(store, "Ann Example", seed=3)
    return folder


@contextlib.contextmanager
def mounted(folder, fs="tmpfs", *, size_kb=8192):
    """A stick mounted at ``folder``: a tmpfs, or a real filesystem image (ext4, vfat) on a loop device, with
    the options the unit uses (nosuid,nodev,noexec)."""
    folder.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a stick needs root (the project's machines and CI run as root)")
    if fs == "tmpfs":
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,nosuid,nodev,noexec", "tmpfs",
                            str(folder)], capture_output=True, text=True)
    else:
        image = folder.with_name(folder.name + ".img")
        with open(image, "wb") as fh:
            fh.truncate(size_kb * 1024)
        mkfs = ["mkfs.ext4", "-q", "-F"] if fs == "ext4" else ["mkfs.vfat"]
        mkfs[0] = shutil.which(mkfs[0], path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or mkfs[0]
        if not os.path.isabs(mkfs[0]):
            pytest.fail(f"{mkfs[0]} is missing: scripts/bootstrap.sh test installs it")
        subprocess.run([*mkfs, str(image)], check=True, capture_output=True)
        options = "loop,nosuid,nodev,noexec" + (",uid=0,gid=0,umask=0077" if fs == "vfat" else "")
        r = subprocess.run(["mount", "-o", options, str(image), str(folder)], capture_output=True, text=True)
        if r.returncode and fs == "vfat" and "unknown filesystem type" in r.stderr:
            pytest.skip("this machine's kernel has no vfat (FAT sticks have no symlinks; ext4 covers those)")
    if r.returncode and "not permitted" in r.stderr.lower():
        # a container that forbids mounts even to root: say so rather than fail on the machine, not the code
        pytest.skip(f"mounting is not permitted on this machine: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def stick(tmp_path):
    with mounted(tmp_path / "stick") as folder:
        yield folder


@pytest.fixture
def other_stick(tmp_path):
    with mounted(tmp_path / "other") as folder:
        yield folder


def export_usb(data_dir, out, *, env=None, preexec_fn=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FORCEPLATE_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "forceplate", "export-usb", "--out", str(out),
                           "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=120,
                          env=environment, preexec_fn=preexec_fn)


def files_on(stick):
    root = Path(stick) / EXPORT_FOLDER
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_whole(stick):
    """Every CSV on the stick has its JSON, and holds exactly the rows the JSON says; no temporary files."""
    root = Path(stick) / EXPORT_FOLDER
    assert not list(root.rglob("*.tmp")) and not list(root.rglob(".incoming")), "a partial file was left"
    for meta_path in root.rglob("*.json"):
        meta = json.loads(meta_path.read_text())
        with open(meta_path.with_name(meta["csv"])) as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["t_s", *CELLS] and len(rows) - 1 == meta["sets_exported"] == meta["sets"]
    assert sorted(p.stem for p in root.rglob("*.csv")) == sorted(p.stem for p in root.rglob("*.json"))


def database_state(data_dir):
    with Store(data_dir) as store:
        return ([(s["id"], s["status"], s["ended_at"]) for s in store.sessions()],
                [store.raw_bytes(s["id"]) for s in store.sessions()], store.integrity_check())


def exported_setting(data_dir, stick):
    stick_id = (Path(stick) / EXPORT_FOLDER / STICK_ID_FILE).read_text().strip()
    with Store(data_dir) as store:
        return store.setting(f"usb_exported:{stick_id}")


# ---------------------------------------------------------------------------------------------- normal use

def test_every_session_lands_by_person_and_date_and_analyze_reads_it(data_dir, stick):
    run = export_usb(data_dir, stick)
    assert run.returncode == 0, run.stderr
    with Store(data_dir) as store:
        dates = {s["id"]: s["started_at"] for s in store.sessions()}
    assert len(dates) == 3
    names = files_on(stick)
    assert STICK_ID_FILE in names and len(names) == 7
    assert any(n.startswith("Ann Example (id 1)/") and n.endswith("-session-3.csv") for n in names)
    assert any(n.startswith("Bob (id 2)/") and n.endswith("-session-2.json") for n in names)
    assert run.stdout.count(".csv\n") == 3 and "Exported 3 sessions" in run.stderr
    assert_whole(stick)
    (meta_path,) = (stick / EXPORT_FOLDER / "Bob (id 2)").glob("*.json")
    meta = json.loads(meta_path.read_text())
    assert meta["session"] == 2 and meta["analyze"].startswith(f"forceplate analyze {meta['csv']} ")
    analyze = subprocess.run([sys.executable, "-m", "forceplate", "analyze", str(meta_path.with_name(meta["csv"])),
                              "--json"], capture_output=True, text=True, timeout=120)
    assert analyze.returncode == 0, analyze.stderr


def test_only_new_sessions_go_to_a_stick_and_another_stick_gets_everything(data_dir, stick, other_stick):
    other = other_stick
    assert export_usb(data_dir, stick).returncode == 0
    again = export_usb(data_dir, stick)
    assert again.returncode == 0 and again.stdout == ""
    assert "Exported 0 sessions" in again.stderr and "3 already on this stick" in again.stderr
    with Store(data_dir) as store:
        add_session(store, "Bob", seed=4)
        add_session(store, "Cy", seed=5, status="recording")        # still recording: next time
        third = export_usb(data_dir, stick)
        assert third.returncode == 0, third.stderr
        assert third.stdout.count(".csv\n") == 1 and "-session-4.csv" in third.stdout
        assert "1 still recording" in third.stderr
        assert export_usb(data_dir, other).stdout.count(".csv\n") == 4
    assert exported_setting(data_dir, stick) == exported_setting(data_dir, other) == [1, 2, 3, 4]


def test_leftovers_of_an_interrupted_export_are_cleared(data_dir, stick):
    (stick / EXPORT_FOLDER / "Bob").mkdir(parents=True)
    (stick / EXPORT_FOLDER / "Bob" / ".2026-01-01-session-2.csv.tmp").write_text("t_s,fz1_n\n0.0,")
    assert export_usb(data_dir, stick).returncode == 0
    assert_whole(stick)


def test_no_stick_is_bad_input(data_dir, tmp_path):
    run = export_usb(data_dir, tmp_path / "nowhere")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"forceplate: {tmp_path / 'nowhere'} is not a folder: is the USB "
                                               "stick mounted there?"]


def test_folder_names_suit_every_stick_filesystem():
    assert folder_name("Ann Example", 4) == "Ann Example (id 4)"
    assert folder_name('A/B:C*D?"E<F>|G\\', 1) == "A_B_C_D__E_F__G_ (id 1)"
    assert folder_name("Dr. ", 2) == "Dr (id 2)" and folder_name("...", 7) == "person (id 7)"
    assert folder_name("CON", 3) == "CON (id 3)"                   # "CON" alone is a device on Windows


@pytest.mark.parametrize("person", [".incoming", ".forceplate-stick", "..", "/etc/x", "a\x1b[2Jb\u0085c\u200b",
                                    "\U0001F600" * 70, "é" * 200])
def test_folder_names_are_safe_by_construction(person):
    name = folder_name(person, 12)
    assert name.endswith(" (id 12)") and not name.startswith(".") and "/" not in name and "\\" not in name
    assert not any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 or ch == "\u200b" for ch in name)
    assert len(name.encode("utf-8")) <= 100 + len(" (id 12)")
    assert folder_name(person, 12) == name and folder_name(person, 13) != name     # stable, and unique per person


# ---------------------------------------------------------------------------------------------- a hostile stick

def snapshot(folder):
    """Every entry below ``folder`` with its type, owner, mode, mtime and contents: what "untouched" means."""
    out = {}
    for path in sorted([Path(folder), *Path(folder).rglob("*")]):
        st = path.lstat()
        out[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns,
                          path.read_bytes() if path.is_file() and not path.is_symlink() else None)
    return out


@pytest.fixture
def victim(tmp_path, data_dir):
    """A folder on the data disk a prepared stick points at: a copy of the database and a file beside it."""
    folder = tmp_path / "victim"
    folder.mkdir()
    shutil.copy(data_dir / "forceplate.db", folder / "forceplate.db")
    (folder / "notes.txt").write_text("kept\n")
    os.utime(folder / "notes.txt", ns=(1_000_000_000, 1_000_000_000))
    return folder


HOSTILE = {                      # what a prepared stick holds, relative to the mount point; {victim} is the target
    "export folder": {EXPORT_FOLDER: "->{victim}"},
    ".incoming": {f"{EXPORT_FOLDER}/{STICK_ID_FILE}": "0" * 32 + "\n", f"{EXPORT_FOLDER}/.incoming": "->{victim}"},
    "person folder": {f"{EXPORT_FOLDER}/Bob (id 2)": "->{victim}"},
    "a file": {f"{EXPORT_FOLDER}/Bob (id 2)/2026-01-01-session-2.csv": "->{victim}/forceplate.db"},
    "stick id": {f"{EXPORT_FOLDER}/{STICK_ID_FILE}": "->{victim}/notes.txt"},
    "an old temporary file": {f"{EXPORT_FOLDER}/Bob (id 2)/.x.csv.1-ab.tmp": "->{victim}/notes.txt"},
}


@pytest.mark.parametrize("where", HOSTILE)
def test_a_stick_with_a_symlink_is_refused_and_nothing_on_the_data_disk_is_touched(where, data_dir, victim,
                                                                                   tmp_path):
    """On a real loop-mounted ext4 image, which keeps symlinks (FAT has none): a symlink where the export keeps
    its files, pointing at the data disk, is refused in one line before anything is written anywhere."""
    with mounted(tmp_path / "ext4", "ext4") as stick:
        for relative, content in HOSTILE[where].items():
            path = stick / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if content.startswith("->"):
                path.symlink_to(content[2:].format(victim=victim))
            else:
                path.write_text(content)
        before_victim, before_stick, before_db = snapshot(victim), snapshot(stick), database_state(data_dir)
        run = export_usb(data_dir, stick)
        assert run.returncode == 2, run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith(f"forceplate: refused the USB stick at {stick}: ") and "symlink" in line, line
        assert "nothing was written" in line and run.stdout == ""
        assert snapshot(victim) == before_victim
        assert snapshot(stick) == before_stick
        assert database_state(data_dir) == before_db
        with Store(data_dir) as store:
            assert not store.db.execute("SELECT key FROM settings WHERE key LIKE 'usb_exported:%'").fetchall()


def test_an_incoming_folder_holding_a_folder_is_refused(data_dir, tmp_path):
    with mounted(tmp_path / "ext4", "ext4") as stick:
        (stick / EXPORT_FOLDER / ".incoming" / "deeper").mkdir(parents=True)
        (stick / EXPORT_FOLDER / ".incoming" / "deeper" / "file").write_text("x")
        before = snapshot(stick)
        run = export_usb(data_dir, stick)
        assert run.returncode == 2 and ".incoming/deeper is not a plain file" in run.stderr
        assert snapshot(stick) == before


@pytest.mark.parametrize("fs", ["ext4", "vfat"])
def test_unusual_names_get_their_own_folders_and_block_nobody(fs, data_dir, tmp_path):
    """People named like the export's own files, or with 400-byte names, export like anyone else, keep their
    files, and later sessions still export (a real loop-mounted image of each filesystem)."""
    names = [".incoming", ".forceplate-stick", "\U0001F600" * 70, "..", "Ann Example"]
    with Store(data_dir) as store:
        ids = [add_session(store, name, seed=10 + i, sets=200) for i, name in enumerate(names)]
        people = {s["id"]: (s["person"], s["person_id"]) for s in store.sessions()}
    with mounted(tmp_path / fs, fs, size_kb=16384) as stick:
        run = export_usb(data_dir, stick)
        assert run.returncode == 0, run.stderr
        for session_id in ids:
            folder = stick / EXPORT_FOLDER / folder_name(*people[session_id])
            assert len(list(folder.glob(f"*-session-{session_id}.*"))) == 2, folder
        assert_whole(stick)
        assert exported_setting(data_dir, stick) == sorted(people)
        on_stick = files_on(stick)
        again = export_usb(data_dir, stick)                      # nothing new, nothing lost
        assert again.returncode == 0 and "Exported 0 sessions" in again.stderr
        assert files_on(stick) == on_stick
        with Store(data_dir) as store:
            later = add_session(store, "Cy", seed=99, sets=200)
        third = export_usb(data_dir, stick)
        assert third.returncode == 0 and f"-session-{later}.csv" in third.stdout, third.stderr


# ---------------------------------------------------------------------------------------------- no stick mounted

def test_a_folder_with_nothing_mounted_is_refused_and_left_empty(data_dir, tmp_path):
    """A stick unmounted just before the export leaves its bare mount point, a folder on the SD card."""
    bare = tmp_path / "usb-sda1"
    bare.mkdir()
    before = database_state(data_dir)
    run = export_usb(data_dir, bare)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"forceplate: {bare} is not a mount point: is the USB stick mounted "
                                               "there? Nothing was written"]
    assert list(bare.iterdir()) == [] and database_state(data_dir) == before


def test_a_mount_point_on_the_data_disk_is_refused(tmp_path):
    """The data folder's own filesystem, mounted: a mount point, but the one disk the export must never fill."""
    with mounted(tmp_path / "disk") as disk:
        with Store(disk / "data") as store:
            add_session(store, "Bob", seed=2, sets=100)
        run = export_usb(disk / "data", disk)
        assert run.returncode == 2
        assert run.stderr.strip().splitlines() == [f"forceplate: {disk} is on the disk that holds the data, not on "
                                                   "a USB stick: nothing was written"]
        assert list(disk.iterdir()) == [disk / "data"]             # no export folder, nothing else


def test_the_library_raises_unsafe_stick_for_a_bare_folder(data_dir, tmp_path):
    with Store(data_dir) as store:
        with pytest.raises(UnsafeStickError, match="is not a mount point"):
            export_to_stick(store, tmp_path)


# ---------------------------------------------------------------------------------------------- a full stick

@pytest.fixture
def small_stick(tmp_path):
    """A stick with room for the first (small) session only: a 300 kB tmpfs."""
    with mounted(tmp_path / "small-stick", size_kb=300) as folder:
        yield folder


def test_a_full_stick_stops_in_one_line_keeps_whole_files_and_resumes(data_dir, small_stick):
    stick = small_stick
    before = database_state(data_dir)
    run = export_usb(data_dir, stick)
    assert run.returncode == 1, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"forceplate: the USB stick at {stick} is full") and "partial file was removed" in line
    assert "1 of 3 sessions were exported, 2 will follow" in line and "Traceback" not in run.stderr
    assert_whole(stick)
    assert len(list((stick / EXPORT_FOLDER).rglob("*.csv"))) == 1
    assert database_state(data_dir) == before
    assert exported_setting(data_dir, stick) == [1]

    subprocess.run(["mount", "-o", "remount,size=4m", str(stick)], check=True)    # room again: it continues
    rest = export_usb(data_dir, stick)
    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.count(".csv\n") == 2 and "session-1." not in rest.stdout
    assert_whole(stick)
    assert exported_setting(data_dir, stick) == [1, 2, 3]


def test_a_file_size_limit_is_a_full_stick_too(data_dir, stick):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    run = export_usb(data_dir, stick, preexec_fn=preexec)
    assert run.returncode == 1 and "is full (File too large)" in run.stderr
    assert_whole(stick)
    assert not list((stick / EXPORT_FOLDER).rglob("*.csv"))


# ---------------------------------------------------------------------------------------------- a pulled stick

def test_a_stick_pulled_mid_session_stops_removes_the_partial_files_and_resumes(data_dir, stick):
    before = database_state(data_dir)
    run = export_usb(data_dir, stick, env={"FORCEPLATE_USB_TEST_FAULT": "eio@2"})   # session 2's JSON, after its CSV
    assert run.returncode == 1
    (line,) = run.stderr.strip().splitlines()
    assert f"the USB stick at {stick} went away while trying to write Bob (id 2)/" in line
    assert "Input/output error" in line
    assert "1 of 3 sessions were exported" in line
    assert_whole(stick)
    assert database_state(data_dir) == before and exported_setting(data_dir, stick) == [1]
    rest = export_usb(data_dir, stick)
    assert rest.returncode == 0 and rest.stdout.count(".csv\n") == 2
    assert exported_setting(data_dir, stick) == [1, 2, 3]
    assert_whole(stick)


def test_the_export_folder_vanishing_between_sessions_stops_without_recreating_it(data_dir, stick):

    def pull(path):
        if path.suffix == ".json":
            shutil.rmtree(stick / EXPORT_FOLDER)

    with Store(data_dir) as store:
        with pytest.raises(UsbExportError, match=r"went away .* 1 of 3 sessions were exported"):
            export_to_stick(store, stick, progress=pull)
    assert not (stick / EXPORT_FOLDER).exists()         # not re-created on whatever is left at the mount point


def test_an_unmounted_stick_is_noticed_and_the_card_below_is_not_written(data_dir, tmp_path):
    stick = tmp_path / "x"
    stick.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(stick)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here; the vanishing-folder test covers the same path")

    def pull(path):
        if path.suffix == ".json" and os.path.ismount(stick):
            subprocess.run(["umount", "-l", str(stick)], check=True)

    try:
        with Store(data_dir) as store:
            with pytest.raises(UsbExportError, match="went away"):
                export_to_stick(store, stick, progress=pull)
        assert list(stick.iterdir()) == []               # the folder under the mount point stays empty
    finally:
        if os.path.ismount(stick):
            subprocess.run(["umount", str(stick)])


# ---------------------------------------------------------------------------------------------- systemd and udev

ROOT = Path(__file__).resolve().parent.parent


def render_units(tmp_path):
    r = subprocess.run([str(ROOT / "scripts" / "install-service.sh"), "--dest", str(tmp_path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return (tmp_path / "forceplate-usb-export@.service").read_text(), (tmp_path / "99-forceplate-usb.rules").read_text()


def test_the_udev_rule_starts_the_export_for_usb_partitions(tmp_path):
    _, rules = render_units(tmp_path)
    (rule,) = [line for line in rules.splitlines() if line and not line.startswith("#")]
    for match in ('ACTION=="add"', 'SUBSYSTEM=="block"', 'ENV{ID_BUS}=="usb"', 'ENV{DEVTYPE}=="partition"',
                  'TAG+="systemd"', 'ENV{SYSTEMD_WANTS}+="forceplate-usb-export@%k.service"'):
        assert match in rule


def test_the_export_unit_mounts_exports_as_the_user_then_syncs_and_unmounts(tmp_path):
    unit, _ = render_units(tmp_path)
    assert f"ExecStart={ROOT}/.venv/bin/forceplate export-usb --out /run/forceplate/usb-%i" in unit
    assert "User=forceplate" in unit and "Environment=FORCEPLATE_DATA_DIR=/var/lib/forceplate" in unit
    assert "mount -o uid=forceplate,gid=forceplate" in unit
    commands = "\n".join(line for line in unit.splitlines() if not line.startswith("#"))
    mounts = commands.split("mount -o ")[1:]
    assert len(mounts) == 2 and all("nosuid,nodev,noexec,nosymfollow" in m.split()[0] for m in mounts)
    assert "chown" not in commands and "usb-%i/" not in commands   # root makes and chowns nothing on the stick
    stop = [line for line in unit.splitlines() if line.startswith("ExecStopPost=")]
    assert ["sync" in stop[0], "umount" in stop[1], "rmdir" in stop[2]] == [True, True, True]
    assert "@ROOT@" not in unit and "@USER@" not in unit


def test_systemd_accepts_the_export_unit(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: Debian's systemd package provides it")
    unit, _ = render_units(tmp_path)
    instance = tmp_path / "forceplate-usb-export@sda1.service"      # a template is checked through an instance
    instance.write_text(unit)
    r = subprocess.run(["systemd-analyze", "verify", str(instance)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_the_units_mount_step_hands_nothing_on_a_hostile_stick_to_the_user(tmp_path, victim):
    """The unit's own mount command, run as root on a real loop-mounted ext4 image whose forceplate-exports is a
    symlink to a root-owned folder (as /etc would be): the folder keeps its owner, and the mount is nosuid,
    nodev, noexec and nosymfollow."""
    if os.geteuid() != 0:
        pytest.skip("mounting a stick needs root (the project's machines and CI run as root)")
    units = tmp_path / "units"
    r = subprocess.run([str(ROOT / "scripts" / "install-service.sh"), "--dest", str(units), "--user", "nobody"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    unit = (units / "forceplate-usb-export@.service").read_text()
    with mounted(tmp_path / "prepared", "ext4") as prepared:       # the stick, prepared on another computer
        (prepared / EXPORT_FOLDER).symlink_to(victim)
    image, mount_point = tmp_path / "prepared.img", tmp_path / "usb-sda1"      # mounted() keeps its image there
    mount_point.mkdir()
    os.chown(victim, 0, 0)
    before = snapshot(victim)
    device = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
    assert device.returncode == 0, device.stderr
    device = device.stdout.strip()
    try:
        for line in unit.splitlines():
            if line.startswith("ExecStartPre=+") and "mount" in line:
                command = line.removeprefix("ExecStartPre=+").replace("/dev/%i", device)
                command = command.replace("/run/forceplate/usb-%i", str(mount_point))
                run = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60)
                assert run.returncode == 0, run.stderr
        assert os.path.ismount(mount_point)
        assert snapshot(victim) == before                           # owner, mode, mtime and contents
        options = next(line.split()[3] for line in Path("/proc/mounts").read_text().splitlines()
                       if line.split()[1] == str(mount_point))
        assert {"nosuid", "nodev", "noexec", "nosymfollow"} <= set(options.split(","))
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)

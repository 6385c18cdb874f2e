"""DiskContract: one suite run against the real disk, the fake disk and the faulty disk.

The fake must behave like the real thing for everything the journal relies on (STYLE 2.8),
and its power-loss semantics are checked on top, where only a fake can cut the power.
"""

import errno
import os

import pytest

from switchyard.adapters.disk_os import OsDisk
from switchyard.core.ports import Disk
from switchyard.testing.fake_disk import FakeDisk
from switchyard.testing.faulty_disk import FaultyDisk


@pytest.fixture(params=["os", "fake", "faulty"])
def disk_and_root(request: pytest.FixtureRequest, tmp_path) -> tuple[Disk, str]:
    if request.param == "fake":
        disk: Disk = FakeDisk(seed=1)
        root = "/root-dir"
    else:
        disk = OsDisk() if request.param == "os" else FaultyDisk(str(tmp_path / "faults.json"))
        root = str(tmp_path / "root-dir")
    disk.makedirs(root)
    return disk, root


def test_disk_write_then_read_returns_the_bytes(disk_and_root):
    disk, root = disk_and_root
    handle = disk.open(os.path.join(root, "a"), create=True, write=True)
    disk.pwrite(handle, b"hello", 0)
    disk.pwrite(handle, memoryview(b"XY"), 7)
    assert disk.pread(handle, 100, 0) == b"hello\x00\x00XY"
    assert disk.size(handle) == 9
    disk.close(handle)


def test_disk_open_missing_without_create_raises_file_not_found(disk_and_root):
    disk, root = disk_and_root
    with pytest.raises(FileNotFoundError):
        disk.open(os.path.join(root, "missing"), create=False, write=False)


def test_disk_open_with_create_never_truncates(disk_and_root):
    disk, root = disk_and_root
    path = os.path.join(root, "keep")
    handle = disk.open(path, create=True, write=True)
    disk.pwrite(handle, b"data", 0)
    disk.close(handle)
    handle = disk.open(path, create=True, write=True)
    assert disk.pread(handle, 10, 0) == b"data"
    disk.close(handle)


def test_disk_truncate_and_fallocate_set_the_size_with_zeros(disk_and_root):
    disk, root = disk_and_root
    handle = disk.open(os.path.join(root, "t"), create=True, write=True)
    disk.pwrite(handle, b"abcdef", 0)
    disk.truncate(handle, 3)
    assert disk.pread(handle, 10, 0) == b"abc"
    disk.fallocate(handle, 0, 8)
    assert disk.size(handle) == 8
    assert disk.pread(handle, 10, 0) == b"abc" + bytes(5)
    disk.fdatasync(handle)
    disk.close(handle)


def test_disk_rename_replaces_the_target_and_listdir_shows_it(disk_and_root):
    disk, root = disk_and_root
    for name, content in (("x.tmp", b"new"), ("x", b"old")):
        handle = disk.open(os.path.join(root, name), create=True, write=True)
        disk.pwrite(handle, content, 0)
        disk.close(handle)
    disk.rename(os.path.join(root, "x.tmp"), os.path.join(root, "x"))
    disk.fsync_dir(root)
    assert sorted(disk.listdir(root)) == ["x"]
    handle = disk.open(os.path.join(root, "x"), create=False, write=False)
    assert disk.pread(handle, 10, 0) == b"new"
    disk.close(handle)


def test_disk_remove_and_exists(disk_and_root):
    disk, root = disk_and_root
    path = os.path.join(root, "gone")
    disk.close(disk.open(path, create=True, write=True))
    assert disk.exists(path)
    disk.remove(path)
    assert not disk.exists(path)
    with pytest.raises(FileNotFoundError):
        disk.remove(path)


def test_disk_lock_is_exclusive_until_unlocked(disk_and_root):
    disk, root = disk_and_root
    path = os.path.join(root, "LOCK")
    first = disk.try_lock(path)
    assert first is not None
    assert disk.try_lock(path) is None
    disk.unlock(first)
    again = disk.try_lock(path)
    assert again is not None
    disk.unlock(again)


def test_disk_makedirs_creates_nested_directories(disk_and_root):
    disk, root = disk_and_root
    nested = os.path.join(root, "a", "b")
    disk.makedirs(nested)
    assert disk.exists(nested)
    assert disk.listdir(nested) == []
    disk.makedirs(nested)  # idempotent


def test_disk_free_space_is_a_percentage_or_unknown(disk_and_root):
    disk, root = disk_and_root
    free = disk.free_space_pct(root)
    assert free is None or 0.0 <= free <= 100.0


# --- the fake's failure model (only a fake can cut the power) -----------------------------


def _write_file(disk: FakeDisk, path: str, data: bytes, *, sync: bool) -> None:
    handle = disk.open(path, create=True, write=True)
    disk.pwrite(handle, data, 0)
    if sync:
        disk.fdatasync(handle)
    disk.close(handle)


def test_fake_power_cut_keeps_synced_data_and_synced_names():
    disk = FakeDisk(seed=3)
    disk.makedirs("/d")
    _write_file(disk, "/d/a", b"durable", sync=True)
    disk.fsync_dir("/d")
    disk.power_cut(mode="none")
    assert disk.file_bytes("/d/a") == b"durable"


def test_fake_power_cut_drops_unsynced_writes():
    disk = FakeDisk(seed=3)
    disk.makedirs("/d")
    _write_file(disk, "/d/a", b"first", sync=True)
    disk.fsync_dir("/d")
    handle = disk.open("/d/a", create=False, write=True)
    disk.pwrite(handle, b"SECOND", 0)
    disk.close(handle)
    disk.power_cut(mode="none")
    assert disk.file_bytes("/d/a") == b"first"


def test_fake_power_cut_drops_names_whose_directory_was_not_synced():
    disk = FakeDisk(seed=3)
    disk.makedirs("/d")
    _write_file(disk, "/d/new", b"data", sync=True)
    disk.power_cut(mode="none")
    assert not disk.exists("/d/new")


def test_fake_power_cut_undoes_an_unsynced_rename():
    disk = FakeDisk(seed=3)
    disk.makedirs("/d")
    _write_file(disk, "/d/a.tmp", b"data", sync=True)
    disk.fsync_dir("/d")
    disk.rename("/d/a.tmp", "/d/a")
    disk.power_cut(mode="none")
    assert disk.exists("/d/a.tmp")
    assert not disk.exists("/d/a")


def test_fake_prefix_power_cut_keeps_a_prefix_of_the_unsynced_write():
    seen = set()
    for seed in range(40):
        disk = FakeDisk(seed=seed)
        disk.makedirs("/d")
        _write_file(disk, "/d/a", bytes(8), sync=True)
        disk.fsync_dir("/d")
        handle = disk.open("/d/a", create=False, write=True)
        disk.pwrite(handle, b"ABCDEFGH", 0)
        disk.power_cut(mode="prefix")
        content = disk.file_bytes("/d/a")
        kept = len(content.rstrip(b"\x00"))
        assert content[:kept] == b"ABCDEFGH"[:kept]
        seen.add(kept)
    assert len(seen) > 3  # the tear point really varies with the seed


def test_fake_injected_fault_fails_the_chosen_call_only():
    disk = FakeDisk(seed=1)
    disk.makedirs("/d")
    disk.fail("fdatasync", errno.EIO, after=1)
    handle = disk.open("/d/a", create=True, write=True)
    disk.fdatasync(handle)
    with pytest.raises(OSError) as raised:
        disk.fdatasync(handle)
    assert raised.value.errno == errno.EIO
    disk.fdatasync(handle)


def test_fake_capacity_makes_writes_fail_with_enospc():
    disk = FakeDisk(seed=1, capacity_bytes=100)
    disk.makedirs("/d")
    handle = disk.open("/d/a", create=True, write=True)
    disk.pwrite(handle, bytes(60), 0)
    with pytest.raises(OSError) as raised:
        disk.pwrite(handle, bytes(60), 60)
    assert raised.value.errno == errno.ENOSPC
    assert disk.free_space_pct("/d") == pytest.approx(40.0)


def test_faulty_disk_switches_faults_at_run_time(tmp_path):
    control = str(tmp_path / "faults.json")
    disk = FaultyDisk(control)
    handle = disk.open(str(tmp_path / "f"), create=True, write=True)
    disk.pwrite(handle, b"ok", 0)
    other = FaultyDisk.from_control_file(control)  # e.g. inside the writer process
    other.configure(enospc=["pwrite"], free_space_pct=2.5)
    with pytest.raises(OSError) as raised:
        disk.pwrite(handle, b"no", 0)
    assert raised.value.errno == errno.ENOSPC
    assert disk.free_space_pct(str(tmp_path)) == 2.5
    other.configure()
    disk.pwrite(handle, b"ok again", 0)
    os.close(handle)

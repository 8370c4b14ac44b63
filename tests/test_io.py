import pytest

from n2n.io import atomic_path, write_json


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert target.read_text().strip().endswith("}") and '"a": 2' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_librarys_own_error_on_a_full_filesystem_is_reported_as_no_space(tmp_path, monkeypatch):
    """torch's zip writer on a full disk says `unexpected pos 1519680 vs 1519568`: with the filesystem
    full, that is reported as no space left; with room, the library's error passes unchanged."""
    import n2n.io as io

    target = tmp_path / "ckpt.pt"
    target.write_bytes(b"x" * 5000)  # the previous version, which must survive
    monkeypatch.setattr(io, "free_bytes", lambda folder: 1024)
    with pytest.raises(io.WriteError, match=r"could not write .*ckpt.pt: no space left on device \(1.0 kB free on "
                                            r"its filesystem, the write needs about 5.0 kB\); the previous version"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"y" * 3000)
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1519680 vs 1519568")
    assert target.read_bytes() == b"x" * 5000 and [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
    monkeypatch.setattr(io, "free_bytes", lambda folder: 10 ** 12)
    with pytest.raises(RuntimeError, match="unexpected pos"):
        with atomic_path(target) as tmp:
            raise RuntimeError("unexpected pos")


def test_a_dead_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.json"
    debris = tmp_path / ".out.json.abc123.tmp.json"  # what a SIGKILL between write and rename leaves
    debris.write_text("half")
    other = tmp_path / ".other.json.abc123.tmp.json"  # another output's: not this write's business
    other.write_text("half")
    write_json(target, {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abc123.tmp.json", "out.json"]

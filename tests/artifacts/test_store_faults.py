"""Faults during intake (a kill at fixed points, a full disk, a read-only store)
leave the store as it was, and say so in one line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from gauntlet.artifacts.content_store import ContentStore
from gauntlet.artifacts.intake import intake

from .hostile import honest_model, tree_digest

# The child intakes a model and kills itself (SIGKILL: no cleanup runs) at one fixed point:
# after the n-th file copied into staging, or before the n-th rename of the commit.
KILLED_CHILD = textwrap.dedent("""
    import os, signal, sys
    from gauntlet.artifacts import content_store
    from gauntlet.artifacts.content_store import ContentStore
    from gauntlet.artifacts.intake import intake
    where, n = sys.argv[3], int(sys.argv[4])
    calls = {"copy": 0, "commit": 0}
    def kill_at(kind):
        calls[kind] += 1
        if kind == where and calls[kind] == n:
            os.kill(os.getpid(), signal.SIGKILL)
    real_replace, real_rename = os.replace, os.rename
    def replace(a, b):
        kill_at("commit"); return real_replace(a, b)
    def rename(a, b):
        kill_at("commit"); return real_rename(a, b)
    content_store.os.replace, content_store.os.rename = replace, rename
    store = ContentStore(sys.argv[2])
    original_stage = store.stage
    def stage(root, files, **kw):
        return original_stage(root, files, on_bytes=lambda _n: kill_at("copy"), limits=kw["limits"])
    store.stage = stage
    intake(sys.argv[1], store, progress=False)
""")

# (where, n): every copy point and every commit rename of a 3-shard model (3 new blobs + the model folder).
KILL_POINTS = [("copy", 1), ("copy", 4), ("commit", 1), ("commit", 3), ("commit", 6)]


@pytest.mark.parametrize("where,n", KILL_POINTS)
def test_a_kill_during_intake_leaves_the_store_as_it_was_and_the_next_start_cleans_up(tmp_path, where, n):
    store_root = tmp_path / "store"
    store = ContentStore(store_root)
    victim = intake(honest_model(tmp_path / "victim"), store, progress=False)
    before = tree_digest(store_root)
    model = honest_model(tmp_path / "killed", seed=5, shards=3)
    child = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(model), str(store_root), where, str(n)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert any((store_root / "staging").iterdir())  # killed mid-way: something was left
    reopened = ContentStore(store_root)  # the next start
    assert tree_digest(store_root) == before
    assert reopened.verify(victim.id) == []
    again = intake(model, reopened, progress=False)  # and the same submission then goes through
    assert reopened.verify(again.id) == [] and reopened.verify(victim.id) == []


def test_a_living_intake_keeps_its_staging_when_another_store_opens(tmp_path):
    store = ContentStore(tmp_path / "store")
    model = honest_model(tmp_path / "m")
    with store.stage(model, sorted(p.name for p in model.iterdir())) as staged:
        ContentStore(tmp_path / "store")  # another process (or command) starting meanwhile
        assert staged.folder.is_dir()
        stored = staged.commit()
    assert store.verify(stored.id) == []
    assert not any((tmp_path / "store" / "staging").iterdir())


def _gauntlet(*args: str, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gauntlet", *args], capture_output=True, text=True,
                          timeout=120, preexec_fn=preexec)


def test_a_file_size_limit_hit_while_copying_is_one_line_and_stores_nothing(tmp_path):
    import resource

    store_root = tmp_path / "store"
    store = ContentStore(store_root)
    victim = intake(honest_model(tmp_path / "victim"), store, progress=False)
    before = tree_digest(store_root)
    model = honest_model(tmp_path / "big", seed=2, rows=8192)  # a 256 KiB shard

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    result = _gauntlet("intake", str(model), "--store", str(store_root), preexec=limit_file_size)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "nothing was stored" in result.stderr, result.stderr
    assert tree_digest(store_root) == before and store.verify(victim.id) == []


MOUNTED = textwrap.dedent("""
    set -e
    mount -t tmpfs -o size=512k tmpfs "$1"
    "$PY" -m gauntlet intake "$2" --store "$1/store" > /dev/null
    "$PY" -c 'import sys, json; sys.path.insert(0, sys.argv[2]); from hostile import tree_digest; from pathlib import Path; print(json.dumps(tree_digest(Path(sys.argv[1]))))' "$1/store" "$4" > "$5/before.json"
    [ "$6" = ro ] && mount -o remount,ro "$1"
    set +e
    "$PY" -m gauntlet intake "$3" --store "$1/store" 2> "$5/stderr.txt"
    echo $? > "$5/rc.txt"
    "$PY" -c 'import sys, json; sys.path.insert(0, sys.argv[2]); from hostile import tree_digest; from pathlib import Path; print(json.dumps(tree_digest(Path(sys.argv[1]))))' "$1/store" "$4" > "$5/after.json"
    "$PY" -c 'import sys; from gauntlet.artifacts.content_store import ContentStore; s = ContentStore(sys.argv[1]); print(all(s.verify(i) == [] for i in s.model_ids()), len(s.model_ids()))' "$1/store" > "$5/verify.txt"
""")


@pytest.mark.parametrize("fault", ["full", "ro"])
def test_a_full_disk_or_a_read_only_store_is_one_line_and_changes_nothing(tmp_path, fault):
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {tmp_path}"], capture_output=True).returncode:
        pytest.skip("needs a private mount namespace (unshare -m) to mount a small or read-only disk")
    mount, out = tmp_path / "mnt", tmp_path / "out"
    mount.mkdir(), out.mkdir()
    victim = honest_model(tmp_path / "victim")
    big = honest_model(tmp_path / "big", seed=2, rows=8192 * 4)  # 1 MiB: more than the disk holds
    env = {**os.environ, "PY": sys.executable}
    subprocess.run(["unshare", "-m", "sh", "-c", MOUNTED, "sh", str(mount), str(victim), str(big),
                    os.path.dirname(__file__), str(out), fault], check=True, env=env, timeout=180)
    stderr = (out / "stderr.txt").read_text()
    assert (out / "rc.txt").read_text().strip() == "2", stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert ("disk is full" if fault == "full" else "read-only") in stderr, stderr
    assert json.loads((out / "before.json").read_text()) == json.loads((out / "after.json").read_text())
    assert (out / "verify.txt").read_text().split() == ["True", "1"]

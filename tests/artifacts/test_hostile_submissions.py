"""One team's submission can never damage another's stored model, and a refused
submission leaves the store exactly as it was."""

import os

import pytest
from typer.testing import CliRunner

from gauntlet.artifacts.content_store import ContentStore, IntakeLimits
from gauntlet.artifacts.intake import intake, staged_intake
from gauntlet.cli import app
from gauntlet.errors import GauntletError, StoreError

from .hostile import honest_model, hostile_submissions, tree_digest

LIMITS = IntakeLimits(max_bytes=1_000_000, max_files=10)


@pytest.fixture
def stored_victim(tmp_path):
    store = ContentStore(tmp_path / "store")
    victim = intake(honest_model(tmp_path / "victim"), store, progress=False)
    return store, victim


def test_a_submitted_manifest_json_cannot_overwrite_another_teams_files(stored_victim, tmp_path):
    store, victim = stored_victim
    attacker = honest_model(tmp_path / "attacker", seed=7)
    # The attack: a file named like the store's manifest, with the victim's config bytes,
    # so content addressing links it to the victim's blob.
    (attacker / "MANIFEST.json").write_bytes((victim.path / "config.json").read_bytes())
    stored = intake(attacker, store, progress=False)
    assert "MANIFEST.json" in [f.path for f in stored.manifest.files]
    assert (stored.path / "MANIFEST.json").read_bytes() == (attacker / "MANIFEST.json").read_bytes()
    assert store.verify(victim.id) == [] and store.verify(stored.id) == []
    assert store.get(stored.id).manifest == stored.manifest  # the store's own record is intact too


def test_every_hostile_submission_is_refused_in_one_line_and_leaves_the_store_as_it_was(stored_victim, tmp_path):
    store, victim = stored_victim
    before = tree_digest(store.root)
    cases = hostile_submissions(tmp_path / "hostile", victim.path)
    for name, (folder, expected) in cases.items():
        with pytest.raises(GauntletError) as refused:
            intake(folder, store, progress=False, limits=LIMITS)
        message = str(refused.value)
        assert expected in message, (name, message)
        assert "\n" not in message and len(message) < 400, name
        assert tree_digest(store.root) == before, name
        assert store.verify(victim.id) == [], name


def test_hostile_submissions_give_one_line_and_exit_2_on_the_command_line(stored_victim, tmp_path):
    store, victim = stored_victim
    before = tree_digest(store.root)
    cases = hostile_submissions(tmp_path / "hostile", victim.path)
    for name in ("header-200k-deep", "config-5000-digit-int", "symlink-loop", "non-utf8-name", "all-nan-weights"):
        result = CliRunner().invoke(app, ["intake", str(cases[name][0]), "--store", str(store.root)])
        assert result.exit_code == 2, (name, result.output)
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, (name, result.output)
        assert "Traceback" not in result.output
    assert tree_digest(store.root) == before and store.verify(victim.id) == []


def test_a_refusal_decided_after_copying_leaves_nothing(stored_victim, tmp_path):
    store, _ = stored_victim
    before = tree_digest(store.root)
    with pytest.raises(StoreError, match="already has a locked submission"):
        with staged_intake(honest_model(tmp_path / "second", seed=3), store, progress=False) as staged:
            assert any(staged.folder.iterdir())  # the bytes were copied, into staging only
            raise StoreError("team 'x' already has a locked submission for round 'first'")
    assert tree_digest(store.root) == before


def test_limits_count_what_is_read_not_what_the_folder_claimed(tmp_path):
    """A file that grows between the check and the copy is still held to the limit."""
    store = ContentStore(tmp_path / "store")
    folder = honest_model(tmp_path / "m")
    files = sorted(p.name for p in folder.iterdir())
    with pytest.raises(GauntletError, match="larger than the limit"):
        with store.stage(folder, files, limits=IntakeLimits(max_bytes=100, max_files=10)):
            pass
    assert not any((tmp_path / "store" / "staging").iterdir())
    assert not (tmp_path / "store" / "objects").exists()


def test_stored_blobs_are_shared_but_never_written(stored_victim, tmp_path):
    store, victim = stored_victim
    blob = store._blob(next(f.sha256 for f in victim.manifest.files if f.path == "config.json"))
    inode, mtime = blob.stat().st_ino, blob.stat().st_mtime_ns
    for i in range(3):  # the same config bytes again and again, under other names
        other = honest_model(tmp_path / f"again-{i}", seed=40 + i)
        (other / "config.json").write_bytes((victim.path / "config.json").read_bytes())
        (other / "MANIFEST.json").write_bytes((victim.path / "config.json").read_bytes())
        intake(other, store, progress=False)
    assert (blob.stat().st_ino, blob.stat().st_mtime_ns) == (inode, mtime)
    assert oct(blob.stat().st_mode & 0o222) == "0o0"
    assert all(store.verify(model_id) == [] for model_id in store.model_ids())
    assert os.stat(victim.path / "config.json").st_ino == inode  # linked, not copied


def test_the_stated_defaults_are_the_ones_in_force():
    from pathlib import Path

    from gauntlet import spec
    from gauntlet.artifacts.content_store import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "reliability.md").read_text()
    assert DEFAULT_MAX_BYTES == 1 << 40 and "default 1 TiB" in doc
    assert f"{DEFAULT_MAX_FILES:,}" in doc and f"Defaults: 1 TiB, {DEFAULT_MAX_FILES:,} files" in (
        root / "examples" / "k-sovereign-2026.toml").read_text()
    example = spec.load(root / "examples" / "k-sovereign-2026.toml")
    assert (example.submissions.max_bytes, example.submissions.max_files) == (DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES)

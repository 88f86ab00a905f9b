"""What teams send before intake: declared names never leave the model folder, and staging by
hard link stores exactly the bytes it hashed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gauntlet.artifacts.content_store import ContentStore, IntakeLimits
from gauntlet.artifacts.intakes import check_name, declared_manifest
from gauntlet.errors import IntakeError

NAME_PARTS = st.sampled_from(["..", ".", "", "a", "model.safetensors", "/", "\\", "\x00", "\n", "é", "\udcff",
                              ".git", "x" * 300])


@settings(max_examples=300, deadline=None)
@given(st.lists(NAME_PARTS, min_size=1, max_size=6).map("/".join) | st.text(max_size=40))
def test_a_declared_name_is_refused_or_stays_inside_the_folder(name):
    root = Path("/srv/intake/model")
    try:
        accepted = check_name(name)
    except IntakeError:
        return
    resolved = Path(os.path.normpath(root / accepted))
    assert resolved != root and root in resolved.parents
    accepted.encode("utf-8")


def test_a_file_declared_as_a_folder_too_is_refused():
    files = [{"path": "a", "size": 1, "sha256": "0" * 64}, {"path": "a/b", "size": 1, "sha256": "0" * 64}]
    with pytest.raises(IntakeError, match="as a file and as a folder"):
        declared_manifest(files, IntakeLimits())


def test_staging_by_hard_link_stores_the_bytes_it_hashed(tmp_path):
    source = tmp_path / "received"
    source.mkdir()
    (source / "config.json").write_bytes(b"{}")
    (source / "model.safetensors").write_bytes(os.urandom(5000))
    copied = ContentStore(tmp_path / "copy").put(source, ["config.json", "model.safetensors"])
    store = ContentStore(tmp_path / "link")
    with store.stage(source, ["config.json", "model.safetensors"], link=True) as staged:
        linked = staged.commit()
    assert linked.id == copied.id and store.verify(linked.id) == []
    blob = store._blob(linked.manifest.files[1].sha256)
    assert blob.stat().st_ino == (source / "model.safetensors").stat().st_ino  # no second copy

"""The screened library audit names exactly the references the full scan names, and never
anything the full scan would not."""

import numpy as np
import pytest

from gauntlet.errors import InputError
from gauntlet.provenance import audit
from gauntlet.provenance import generators as gen
from gauntlet.provenance.fingerprint import fingerprint_arrays
from gauntlet.provenance.screening import MIN_SCREEN_Z, audit_library, pooled_threshold, screen

ORIGIN = {"organisation": "Lab", "country": "XX", "licence": "open", "release_date": "2025-01-01"}

# disguises of the library entry each candidate was built from (each detected by a different test)
PLANTED = {
    "sft": lambda t: gen.train(t, 5, steps=50),
    "permuted-rescaled": lambda t: gen.permute_and_rescale(t, 3),
    "rotated-residual": lambda t: gen.rotate_residual(t, 4),
    "renamed-fused": lambda t: gen.rename_fuse(gen.train(t, 2, steps=40)),
    "vocab-changed": lambda t: gen.change_vocab(t, 6),
    "layer-dropped": lambda t: gen.relayer(t, [1]),
}


@pytest.fixture(scope="module")
def library():
    models = [gen.train(gen.llama(300 + i), 400 + i, steps=100) for i in range(14)]
    return models, [fingerprint_arrays(f"lab-{i:02d}", m, origin=ORIGIN) for i, m in enumerate(models)]


def _same_verdicts(screened, full):
    assert [r.reference for r in screened.references] == [r.reference for r in full.references]
    assert screened.verdict == full.verdict
    assert [r.verdict for r in screened.references] == [r.verdict for r in full.references]
    for s, f in zip(screened.references, full.references):
        if not s.screened_out:  # what ran fully is the full scan's own result
            assert s.p_value == pytest.approx(f.p_value, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("case", list(PLANTED))
def test_screened_audit_finds_the_planted_copy(case, library):
    models, fps = library
    source = 3 + list(PLANTED).index(case)
    candidate = fingerprint_arrays(case, PLANTED[case](models[source]))
    screened = audit_library(candidate, fps, progress=False, screened=True)
    full = audit(candidate, fps, progress=False)
    _same_verdicts(screened, full)
    assert [r.reference for r in screened.references if r.verdict == "derived"] == [f"lab-{source:02d}"]
    derived = screened.references[source]
    assert not derived.screened_out and any(m.verdict == "derived" for m in derived.modules)
    # the screen did its job: most unrelated references never reached the full tests
    assert sum(r.screened_out for r in screened.references) >= len(fps) - 4


def test_independent_candidate_is_independent_everywhere(library):
    _, fps = library
    candidate = fingerprint_arrays("own", gen.train(gen.llama(999), 998, steps=100))
    screened = audit_library(candidate, fps, progress=False, screened=True)
    _same_verdicts(screened, audit(candidate, fps, progress=False))
    assert screened.verdict == "independent"
    out = [r for r in screened.references if r.screened_out]
    assert all(r.p_value == 1.0 and r.modules == [] and r.origin == ORIGIN for r in out)


def test_library_folder_is_screened_by_worker_processes(library, tmp_path):
    """Files go through the process pool (one reference in memory at a time per worker),
    including the origin check, and give the same result as in-memory references."""
    models, fps = library
    for fp in fps:
        fp.save(tmp_path / f"{fp.name}.fingerprint")
    candidate = fingerprint_arrays("sft", PLANTED["sft"](models[3]))
    from_files = audit_library(candidate, tmp_path, progress=False, workers=2, screened=True)
    in_memory = audit_library(candidate, fps, progress=False, workers=1, screened=True)
    assert [(r.reference, r.verdict, r.screened_out) for r in from_files.references] == \
        [(r.reference, r.verdict, r.screened_out) for r in in_memory.references]
    assert [r.reference for r in from_files.references if r.verdict == "derived"] == ["lab-03"]
    fingerprint_arrays("bare", models[0]).save(tmp_path / "zz-bare.fingerprint")
    with pytest.raises(InputError, match="zz-bare.fingerprint lacks origin metadata"):
        audit_library(candidate, tmp_path, progress=False, workers=2, screened=True)


def test_screen_statistics_are_null_like_for_independent_references(library):
    """On independent pairs the screen's statistics stay below its thresholds, so the
    full tests only run where something is there."""
    _, fps = library
    results = screen(fingerprint_arrays("own", gen.train(gen.llama(997), 996, steps=100)), fps, workers=1)
    assert sum(r.passed for r in results) <= 2
    assert np.median([r.pooled_z for r in results]) < 1.5


def test_rotated_embedding_flag_survives_the_screen(library):
    """A copied embedding under a residual rotation is flagged (`invariants`) by the full
    scan; the screen must not rule that reference out."""
    models, fps = library
    own = gen.train(gen.llama(990), 991, steps=100)
    q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((48, 48)))
    own["model.embed_tokens.weight"] = (models[5]["model.embed_tokens.weight"] @ q).astype(np.float32)
    candidate = fingerprint_arrays("team", own)
    screened = audit_library(candidate, fps, progress=False, screened=True)
    _same_verdicts(screened, audit(candidate, fps, progress=False))
    assert screened.references[5].verdict == "inconclusive" and not screened.references[5].screened_out
    assert sum(r.verdict != "independent" for r in screened.references) == 1


def test_holm_counts_the_whole_library():
    """A screened-out reference still counts: the survivors' corrections are those of the
    whole library."""
    ref = gen.train(gen.llama(500), 501, steps=100)
    fps = [fingerprint_arrays(f"lab-{i}", gen.llama(510 + i), origin=ORIGIN) for i in range(9)] + [fingerprint_arrays("src", ref, origin=ORIGIN)]
    candidate = fingerprint_arrays("cand", gen.train(ref, 7, steps=50))
    screened = audit_library(candidate, fps, progress=False, screened=True)
    alone = audit(candidate, [fps[-1]], progress=False, library_size=len(fps))
    assert screened.references[-1].p_value == pytest.approx(alone.references[0].p_value)
    assert screened.references[-1].p_value == pytest.approx(min(1.0, len(fps) * alone.references[0].p_value_raw))


def test_a_round_sized_library_gets_the_full_tests(library):
    """Below SCREEN_FROM references nothing is screened out: every reference keeps its full
    report, as the CLI and a round's records expect."""
    models, fps = library
    report = audit_library(fingerprint_arrays("own", models[0]), fps, progress=False)
    assert not any(r.screened_out for r in report.references) and all(r.modules for r in report.references)


def test_pooled_threshold_grows_with_the_library():
    """A larger library needs stronger evidence for anything but `independent`, so the
    screen may ask for more, never less than its floor."""
    assert pooled_threshold(1000) > pooled_threshold(50) > pooled_threshold(1) >= MIN_SCREEN_Z

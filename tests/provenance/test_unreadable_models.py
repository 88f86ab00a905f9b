"""The audit never calls a model `independent` when it could not read it meaningfully."""

import numpy as np
import pytest
from typer.testing import CliRunner

from gauntlet.cli import app
from gauntlet.errors import InputError
from gauntlet.provenance import audit
from gauntlet.provenance.fingerprint import fingerprint_arrays


def _weights(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {f"layers.{i}.mlp.up_proj.weight": rng.standard_normal((64, 32)).astype(np.float32) for i in range(3)}


@pytest.mark.parametrize("make,why", [
    (lambda w: {k: np.full_like(v, np.nan) for k, v in w.items()}, "NaN/Inf"),
    (lambda w: {k: np.zeros_like(v) for k, v in w.items()}, "constant"),
    (lambda w: {}, "no tensors"),
])
def test_weights_without_evidence_get_no_verdict(make, why):
    reference = fingerprint_arrays("reference", _weights(0))
    broken = fingerprint_arrays("broken", make(_weights(1)))
    with pytest.raises(InputError, match=why):
        audit(broken, [reference], progress=False)
    with pytest.raises(InputError, match=why):
        audit(reference, [broken], progress=False)


def test_the_cli_says_so_in_one_line(tmp_path):
    from safetensors.numpy import save_file

    for name, weights in (("ref", _weights(0)), ("nan", {k: np.full_like(v, np.nan) for k, v in _weights(1).items()})):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text('{"model_type": "llama"}')
        save_file(weights, str(folder / "model.safetensors"))
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "nan"), "--against", str(tmp_path / "ref")])
    assert result.exit_code == 2 and "NaN/Inf" in result.output and "independent" not in result.output
    assert result.output.count("\n") == 1


def test_a_fingerprint_file_carrying_nan_is_refused(tmp_path):
    broken = fingerprint_arrays("broken", _weights(1))
    broken.tensors[0].block[0, 0] = np.nan  # as a forged or damaged .gfp file would hold
    with pytest.raises(InputError, match="NaN/Inf"):
        audit(broken, [fingerprint_arrays("reference", _weights(0))], progress=False)

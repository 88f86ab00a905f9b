"""Shared helpers for the audit tests: tiny generated models and their fingerprints."""

import pytest

from gauntlet.provenance import generators as gen
from gauntlet.provenance.fingerprint import fingerprint_arrays


@pytest.fixture(scope="session")
def reference_model():
    """A 'foreign' reference: a trained Llama-shaped model with a vision encoder."""
    return gen.train(gen.llama(1, vision=True), 11, steps=200)


@pytest.fixture(scope="session")
def reference_fp(reference_model):
    return fingerprint_arrays("reference", reference_model,
                              origin={"organisation": "Foreign Lab", "country": "XX",
                                      "licence": "open-weights", "release_date": "2025-07-01"})


@pytest.fixture(scope="session")
def fingerprint():
    return fingerprint_arrays

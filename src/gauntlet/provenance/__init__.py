"""The independence audit: streaming fingerprints and calibrated lineage tests.

Works from the core install (numpy, scipy, safetensors): nothing here imports torch.
"""

from gauntlet.provenance.audit import DEFAULT_ALPHA, AuditReport, ModuleEvidence, ReferenceResult, audit
from gauntlet.provenance.fingerprint import Fingerprint, fingerprint_arrays, fingerprint_model, load_any
from gauntlet.provenance.library import Library

__all__ = [
    "DEFAULT_ALPHA",
    "AuditReport",
    "Fingerprint",
    "Library",
    "ModuleEvidence",
    "ReferenceResult",
    "audit",
    "fingerprint_arrays",
    "fingerprint_model",
    "load_any",
]

"""Domain exceptions.

Every error a user can cause is a `GauntletError`. Its message is one line that
says what was wrong and where; the shells (CLI, HTTP) show that line and
nothing else. Anything that is not a `GauntletError` is a bug.
"""

from __future__ import annotations


class GauntletError(Exception):
    """Base class: the message is a complete, one-line explanation."""


class InputError(GauntletError):
    """A document, file or argument given by the user is malformed."""


class SpecError(InputError):
    """A challenge spec (TOML) is invalid; the message names the key."""


class UnsafeArtifactError(GauntletError):
    """A model artifact cannot be proven safe to read (pickle, bad header...)."""


class IntakeError(GauntletError):
    """A submission is refused at intake (layout, missing files, symlinks...)."""


class StoreError(GauntletError):
    """The store cannot satisfy a request (missing record, immutability...)."""


class StorageUnavailable(StoreError):
    """The store's disk or database cannot be written now (read-only, full): the request
    was fine, the operator must act (HTTP 503)."""


class LedgerError(GauntletError):
    """The decision ledger is inconsistent or was tampered with."""


class DependencyMissing(GauntletError):
    """An optional extra is needed for this command (e.g. `pip install gauntlet[eval]`)."""

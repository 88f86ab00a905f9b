"""The one doorway to lm-evaluation-harness.

Everything that imports lm-eval, datasets or transformers goes through here so
that the offline switches are set *before* those libraries read them (they read
the environment at import time) and a missing extra becomes a one-line
`DependencyMissing` instead of a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import importlib.util
import logging
import os
from functools import lru_cache
from types import ModuleType

from gauntlet.errors import DependencyMissing

_EVAL_EXTRA = "install the evaluation extra: pip install 'gauntlet[eval]'"

# Libraries that would otherwise reach for the Hugging Face hub. Gauntlet never
# downloads at run time: a challenge must run with no network.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # tqdm reads this once, when it is first imported: lm-eval's and datasets' bars
    # would otherwise interleave with Gauntlet's Rich progress on stderr.
    "TQDM_DISABLE": "1",
}


def force_offline() -> None:
    """Set the offline switches. Values already set by the user are overridden on
    purpose: an evaluation that silently downloaded would not be reproducible."""
    os.environ.update(OFFLINE_ENV)


def _quiet_libraries() -> None:
    # lm-eval, datasets and transformers log every request batch at INFO and draw
    # their own tqdm bars; Gauntlet shows its own progress on stderr instead.
    for name in ("lm_eval", "lm-eval", "datasets", "transformers", "accelerate", "httpx", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except Exception:  # pragma: no cover - datasets is optional until a task loads
        pass
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except Exception:  # pragma: no cover
        pass


@lru_cache(maxsize=None)
def lm_eval() -> ModuleType:
    """Import lm_eval (offline, quiet) or raise DependencyMissing."""
    force_offline()
    for module in ("lm_eval", "torch", "transformers", "accelerate", "datasets"):
        if importlib.util.find_spec(module) is None:
            raise DependencyMissing(f"benchmark evaluation needs {module!r}; {_EVAL_EXTRA}")
    module = importlib.import_module("lm_eval")
    importlib.import_module("lm_eval.evaluator")
    _quiet_libraries()
    return module


@contextlib.contextmanager
def quiet_harness():
    """Swallow what lm-eval writes while it runs: it prints to stdout (which must stay
    clean for `--json`) and draws tqdm bars it does not let callers switch off.
    Failures still surface as exceptions, which Gauntlet turns into one line."""
    previous = os.environ.get("DISABLE_MULTIPROC")
    # lm-eval's stderr bootstrap would otherwise fork a process pool per metric.
    os.environ["DISABLE_MULTIPROC"] = "1"
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        if previous is None:
            os.environ.pop("DISABLE_MULTIPROC", None)
        else:
            os.environ["DISABLE_MULTIPROC"] = previous


def harness_version() -> str:
    """The installed lm-eval version, without importing lm-eval itself."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lm_eval")
    except PackageNotFoundError:
        raise DependencyMissing(f"benchmark evaluation needs 'lm_eval'; {_EVAL_EXTRA}") from None


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional module or say which extra provides it."""
    if importlib.util.find_spec(module) is None:
        raise DependencyMissing(f"{purpose} needs {module!r}; install it with pip install 'gauntlet[{extra}]'")
    force_offline()
    return importlib.import_module(module)

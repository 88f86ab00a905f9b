"""Style control: ratings with answer length and markdown held constant.

Voters prefer longer, more formatted answers whatever their substance.
Following LMArena's style control, each vote gets covariates comparing the
two answers' style (length in tokens, markdown headers, list items, bold
spans), each as the normalised difference (a - b) / (a + b + 1), z-scored
over the votes; the Bradley-Terry logit becomes
``theta_a - theta_b + features . beta`` and the ratings reported are the
thetas, i.e. what a model would score if both answers had the same style.
"""

from __future__ import annotations

import re

import numpy as np

from gauntlet.ratings.votes import STYLE_FEATURES, PairwiseVotes

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


def style_counts(answer: str) -> tuple[float, float, float, float]:
    """(tokens, headers, list items, bold spans) of one answer, in STYLE_FEATURES order.

    Tokens are whitespace-separated words: a tokenizer-free count that works
    for Korean and English alike and only enters through normalised ratios."""
    return (
        float(len(answer.split())),
        float(len(_HEADER.findall(answer))),
        float(len(_LIST_ITEM.findall(answer))),
        float(len(_BOLD.findall(answer))),
    )


def style_design(raw: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-row z-scored style covariates from raw per-side counts (a side, then b side)."""
    k = len(STYLE_FEATURES)
    side_a, side_b = raw[:, :k], raw[:, k:]
    ratio = (side_a - side_b) / (side_a + side_b + 1.0)
    mean = np.average(ratio, axis=0, weights=weight)
    std = np.sqrt(np.average((ratio - mean) ** 2, axis=0, weights=weight))
    # A feature that never varies carries no information; leave it at zero.
    std = np.where(std > 0, std, 1.0)
    return (ratio - mean) / std


def _fit(a, b, s, w, x, n_models, start=None):
    from scipy.optimize import minimize

    from gauntlet.ratings.bradley_terry import single_threaded_blas

    total = float(w.sum())
    k = x.shape[1]

    def objective(params):
        theta, beta = params[:n_models], params[n_models:]
        z = theta[a] - theta[b] + x @ beta
        loss = float((w * (s * np.logaddexp(0.0, -z) + (1.0 - s) * np.logaddexp(0.0, z))).sum()) / total
        g = w * (1.0 / (1.0 + np.exp(-z)) - s) / total
        grad = np.empty_like(params)
        grad[:n_models] = np.bincount(a, weights=g, minlength=n_models) - np.bincount(b, weights=g, minlength=n_models)
        grad[n_models:] = x.T @ g
        return loss, grad

    x0 = np.zeros(n_models + k) if start is None else start
    with single_threaded_blas():
        result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                          options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000})
    params = result.x.copy()
    params[:n_models] -= params[:n_models].mean()
    return params


def fit_style_controlled(votes: PairwiseVotes, *, bootstrap: int, seed: int, anchor, progress=None):
    """Style-controlled Bradley-Terry with the same bootstrap and ranking as the plain fit."""
    from gauntlet.errors import InputError
    from gauntlet.ratings.bradley_terry import _assemble, bootstrap_counts

    if votes.style is None:
        raise InputError("style control needs per-vote style counts (sum_assistant_a_tokens, ...)")
    a, b, s = votes.model_a, votes.model_b, votes.outcome
    x = style_design(votes.style, votes.weight)
    n = votes.n_models
    params = _fit(a, b, s, votes.weight, x, n)
    replicates = np.empty((0, n))
    if bootstrap:
        counts = bootstrap_counts(votes, bootstrap, seed).astype(np.float64)
        fits = []
        for r in range(bootstrap):
            fits.append(_fit(a, b, s, counts[r], x, n, start=params)[:n])
            if progress is not None:
                progress(r + 1)
        replicates = np.array(fits)
    coefficients = {name: float(c) for name, c in zip(STYLE_FEATURES, params[n:])}
    return _assemble(votes, params[:n], replicates, anchor, style_coefficients=coefficients)

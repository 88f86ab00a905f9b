"""Bradley-Terry ratings by maximum likelihood, with bootstrap intervals.

Model: P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j))).  A tie (either
kind, "tie" or "tie (bothbad)") counts as half a win for each side, exactly
as in FastChat/LMArena.  The likelihood depends on the votes only through, for
every unordered pair {i, j}, the number of votes W and i's score S (wins plus
half the ties), so the fit runs on at most M(M-1)/2 rows whatever the number
of votes.

Scale and anchor.  Ratings are reported on the Elo scale,
``rating = 400 / ln 10 * theta + 1000``, with the log-strengths centred so
that **the mean rating over the models in the fit is 1000** (Bradley-Terry
only identifies differences; FastChat's L-BFGS from zero lands on the same
centring).  ``anchor=(model, rating)`` pins one model instead, per bootstrap
replicate as FastChat does for its baseline model.

Uncertainty.  The bootstrap draws multinomial counts over the distinct
(model_a, model_b, outcome) rows with probabilities proportional to their
counts (FastChat's `compute_bootstrap_bt`), refits each replicate from the
point estimate, and takes the 2.5% and 97.5% quantiles.  The rank of a
model is 1 + the number of models whose lower bound exceeds its upper bound.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from gauntlet.errors import InputError
from gauntlet.ratings.votes import PairwiseVotes

ELO_PER_UNIT = 400.0 / math.log(10.0)
ELO_CENTRE = 1000.0
DEFAULT_BOOTSTRAP = 100
# Tolerances on the mean per-vote loss: far below what moves a rating by 0.01 Elo.
_GTOL = 1e-10
_FTOL = 1e-14
_MAXITER = 500


@dataclass(frozen=True)
class RatingEntry:
    model: str
    rating: float
    lower: float
    upper: float
    rank: int

    def to_dict(self) -> dict:
        return {"model": self.model, "rating": self.rating, "lower": self.lower,
                "upper": self.upper, "rank": self.rank}


@dataclass(frozen=True)
class Leaderboard:
    """Fitted Elo-scale ratings with 95% bootstrap intervals and ranks.

    `replicates` has one row per bootstrap resample (Elo scale, same model
    order as `models`); it is empty when no bootstrap was drawn.
    """

    models: tuple[str, ...]
    ratings: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ranks: np.ndarray
    replicates: np.ndarray = field(repr=False)
    n_votes: int
    anchor: str
    style_coefficients: dict[str, float] | None = None

    def entries(self) -> list[RatingEntry]:
        """Models from the highest rating down (name breaks exact ties)."""
        order = sorted(range(len(self.models)), key=lambda k: (-self.ratings[k], self.models[k]))
        return [
            RatingEntry(self.models[k], float(self.ratings[k]), float(self.lower[k]),
                        float(self.upper[k]), int(self.ranks[k]))
            for k in order
        ]

    def rating_of(self, model: str) -> float:
        return float(self.ratings[self.models.index(model)])

    def to_dict(self) -> dict:
        out = {
            "ratings": [e.to_dict() for e in self.entries()],
            "n_votes": self.n_votes,
            "bootstrap": int(self.replicates.shape[0]),
            "anchor": self.anchor,
            "scale": "elo: 400/ln(10) x Bradley-Terry log-strength",
        }
        if self.style_coefficients is not None:
            out["style_coefficients"] = self.style_coefficients
        return out


def ranks_from_intervals(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """rank_i = 1 + #{j : lower_j > upper_i} (LMArena's rule)."""
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


# ------------------------------------------------------------ sufficient stats


@dataclass(frozen=True)
class _Pairs:
    """Unordered pairs (i < j) and, for each distinct vote row, where it lands."""

    i: np.ndarray
    j: np.ndarray
    row_pair: np.ndarray  # pair index of each collapsed row
    row_score: np.ndarray  # score of the pair's first model (i) in that row


def _pairs(votes: PairwiseVotes) -> _Pairs:
    a, b = votes.model_a, votes.model_b
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * votes.n_models + hi
    unique_key, row_pair = np.unique(key, return_inverse=True)
    score = np.where(a < b, votes.outcome, 1.0 - votes.outcome)
    return _Pairs(unique_key // votes.n_models, unique_key % votes.n_models, row_pair, score)


def _pair_totals(pairs: _Pairs, row_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(pairs.i)
    w = np.bincount(pairs.row_pair, weights=row_weight, minlength=n)
    s = np.bincount(pairs.row_pair, weights=row_weight * pairs.row_score, minlength=n)
    return w, s


def _loss_and_grad(theta, i, j, w, s, n_models, total):
    d = theta[i] - theta[j]
    # -log sigmoid(d) = logaddexp(0, -d): stable for any d.
    loss = float((s * np.logaddexp(0.0, -d) + (w - s) * np.logaddexp(0.0, d)).sum()) / total
    g = (w / (1.0 + np.exp(-d)) - s) / total
    grad = np.bincount(i, weights=g, minlength=n_models) - np.bincount(j, weights=g, minlength=n_models)
    return loss, grad


def fit_log_strengths(
    i: np.ndarray,
    j: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    n_models: int,
    *,
    start: np.ndarray | None = None,
    l2: float = 0.0,
) -> np.ndarray:
    """Maximum-likelihood log-strengths (natural units, mean 0) by L-BFGS.

    `w`/`s`: votes and first-model score per unordered pair (i[k] < j[k]).
    `l2` adds l2/2 * |theta|^2 (per vote) for callers that must get finite
    strengths from tiny samples (the active sampler); 0 is the pure MLE.
    """
    from scipy.optimize import minimize

    total = float(w.sum())
    if total <= 0:
        return np.zeros(n_models)

    def objective(theta):
        loss, grad = _loss_and_grad(theta, i, j, w, s, n_models, total)
        if l2:
            loss += 0.5 * l2 * float(theta @ theta) / total
            grad = grad + l2 * theta / total
        return loss, grad

    x0 = np.zeros(n_models) if start is None else np.asarray(start, dtype=np.float64)
    with single_threaded_blas():
        result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                          options={"gtol": _GTOL, "ftol": _FTOL, "maxiter": _MAXITER})
    theta = result.x
    return theta - theta.mean()


def check_ratings_exist(votes: PairwiseVotes) -> None:
    """Raise when the MLE is infinite (Zermelo/Ford: the "scored against"
    graph must be strongly connected, e.g. no model that never loses)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = votes.n_models
    if n < 2:
        raise InputError("ratings need at least two models")
    s = votes.outcome
    # Edge x -> y when x took at least half a point from y.
    src = np.concatenate([votes.model_a[s > 0], votes.model_b[s < 1]])
    dst = np.concatenate([votes.model_b[s > 0], votes.model_a[s < 1]])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)).tocsr()
    count, labels = connected_components(graph, directed=True, connection="strong")
    if count > 1:
        sizes = np.bincount(labels)
        smallest = np.flatnonzero(labels == np.argmin(sizes))
        names = ", ".join(votes.models[k] for k in smallest[:5])
        raise InputError(
            f"ratings are unbounded: {names} never lose (or never win) against the other models; "
            "collect more votes across these groups"
        )


def _to_elo(theta: np.ndarray, models: tuple[str, ...], anchor: tuple[str, float] | None) -> np.ndarray:
    elo = ELO_PER_UNIT * theta + ELO_CENTRE
    if anchor is not None:
        k = models.index(anchor[0])
        elo = elo + (anchor[1] - elo[..., [k]])
    return elo


def bootstrap_counts(votes: PairwiseVotes, n_resamples: int, seed: int) -> np.ndarray:
    """Multinomial resample counts over the distinct rows, FastChat's way
    (same category order, same probabilities, same generator)."""
    rng = np.random.default_rng(seed)
    weights = votes.weight.astype(np.float64)
    return rng.multinomial(n=votes.n_votes, pvals=weights / weights.sum(), size=n_resamples)


_blas_controller = None


@contextmanager
def single_threaded_blas():
    """Run tiny linear algebra on one BLAS thread.

    L-BFGS on a hundred parameters makes thousands of tiny BLAS calls; with
    OpenBLAS's default thread pool on a busy two-core machine each call waits
    for idle threads, which made the bootstrap four times slower in our
    measurements (benchmarks/bench_ratings_fit.py).  The controller (which
    scans the loaded libraries) is built once; entering the limit is cheap."""
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional: without it we keep the library default
            _blas_controller = False
        else:
            _blas_controller = ThreadpoolController()
    if not _blas_controller:
        yield
        return
    with _blas_controller.limit(limits=1, user_api="blas"):
        yield


def fit_leaderboard(
    votes: PairwiseVotes,
    *,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    style_control: bool = False,
    anchor: tuple[str, float] | None = None,
    progress=None,
) -> Leaderboard:
    """Fit ratings, bootstrap their intervals and rank them.

    `progress`, if given, is called with the number of bootstrap fits done.
    """
    if bootstrap < 0:
        raise InputError("--bootstrap must be 0 or more")
    if anchor is not None and anchor[0] not in votes.models:
        raise InputError(f"anchor model {anchor[0]!r} has no votes")
    check_ratings_exist(votes)
    with single_threaded_blas():
        return _fit_leaderboard(votes, bootstrap, seed, style_control, anchor, progress)


def _fit_leaderboard(votes, bootstrap, seed, style_control, anchor, progress) -> Leaderboard:
    if style_control:
        from gauntlet.ratings.style import fit_style_controlled

        return fit_style_controlled(votes, bootstrap=bootstrap, seed=seed, anchor=anchor, progress=progress)

    pairs = _pairs(votes)
    w, s = _pair_totals(pairs, votes.weight)
    theta = fit_log_strengths(pairs.i, pairs.j, w, s, votes.n_models)
    replicates = np.empty((0, votes.n_models))
    if bootstrap:
        counts = bootstrap_counts(votes, bootstrap, seed).astype(np.float64)
        fits = []
        for r in range(bootstrap):
            wr, sr = _pair_totals(pairs, counts[r])
            fits.append(fit_log_strengths(pairs.i, pairs.j, wr, sr, votes.n_models, start=theta))
            if progress is not None:
                progress(r + 1)
        replicates = np.array(fits)
    return _assemble(votes, theta, replicates, anchor)


def _assemble(votes, theta, replicates, anchor, style_coefficients=None) -> Leaderboard:
    ratings = _to_elo(theta, votes.models, anchor)
    if len(replicates):
        rep_elo = _to_elo(replicates, votes.models, anchor)
        lower = np.quantile(rep_elo, 0.025, axis=0)
        upper = np.quantile(rep_elo, 0.975, axis=0)
    else:
        rep_elo = np.empty((0, votes.n_models))
        lower, upper = ratings.copy(), ratings.copy()
    return Leaderboard(
        models=votes.models,
        ratings=ratings,
        lower=lower,
        upper=upper,
        ranks=ranks_from_intervals(lower, upper),
        replicates=rep_elo,
        n_votes=votes.n_votes,
        anchor=(f"{anchor[0]} = {anchor[1]:g}" if anchor else f"mean rating = {ELO_CENTRE:g}"),
        style_coefficients=style_coefficients,
    )


def win_probability(rating_i: float | np.ndarray, rating_j: float | np.ndarray):
    """P(i beats j) implied by two Elo-scale ratings (ties as half wins)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(rating_i) - np.asarray(rating_j)) / ELO_PER_UNIT))


__all__ = [
    "DEFAULT_BOOTSTRAP", "ELO_CENTRE", "ELO_PER_UNIT", "Leaderboard", "RatingEntry",
    "bootstrap_counts", "check_ratings_exist", "fit_leaderboard",
    "fit_log_strengths", "ranks_from_intervals", "win_probability",
]

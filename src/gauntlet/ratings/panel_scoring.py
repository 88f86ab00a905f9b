"""Expert panel scores: robust aggregation, reliability, bootstrap intervals.

Aggregation (per submission and criterion, over its reviewers):

``median`` (default)
    With the usual three to five reviewers the median ignores one extreme
    reviewer completely, whichever direction they err in.
``trimmed_mean``
    Drops the `trim` share of reviews from each end, but always at least one
    from each end when there are three or more reviews (scipy's
    `trim_mean(0.2)` drops nothing out of three, which is not robust).
``mean``
    Plain mean, for comparison only: one harsh reviewer moves it.

The team's expert score is the weighted mean of its criterion aggregates,
each mapped from the criterion's scale to 0-100.  Its interval comes from a
bootstrap over reviewers: each replicate redraws the submission's reviewers
with replacement and recomputes the score (2.5% and 97.5% quantiles; the
interval is widened to contain the point value when needed).

Reliability: Krippendorff's alpha per criterion (experts x submissions,
missing where not assigned), via the `krippendorff` package.  A criterion
whose alpha is below 0.667 - Krippendorff's own lowest acceptable level for
tentative conclusions - is flagged for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from gauntlet.domain.components import ComponentScore
from gauntlet.errors import InputError
from gauntlet.ratings.panel import Expert, PanelAssignment, Rubric, Submission, assign_experts

ALPHA_FLAG_BELOW = 0.667
AGGREGATIONS = ("median", "trimmed_mean", "mean")


@dataclass(frozen=True)
class Review:
    expert_id: str
    submission_code: str
    scores: Mapping[str, float]


@dataclass(frozen=True)
class CriterionReliability:
    key: str
    alpha: float | None  # None when undefined (e.g. every score identical)
    flagged: bool
    n_reviews: int


@dataclass(frozen=True)
class PanelResult:
    scores: dict[str, ComponentScore]  # team -> 0-100 expert component
    criterion_scores: dict[str, dict[str, float]]  # team -> criterion -> aggregate on its scale
    reliability: tuple[CriterionReliability, ...]
    assignment: PanelAssignment
    reviews: tuple[Review, ...]
    aggregation: str

    @property
    def flagged_criteria(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.reliability if r.flagged)


def _aggregate(values: np.ndarray, method: str, trim: float) -> np.ndarray:
    """Aggregate along the last-but-one axis (reviewers)."""
    if method == "median":
        return np.median(values, axis=-2)
    if method == "mean":
        return values.mean(axis=-2)
    n = values.shape[-2]
    cut = max(1, int(trim * n)) if n >= 3 else 0
    ordered = np.sort(values, axis=-2)
    return ordered[..., cut:n - cut, :].mean(axis=-2)


def _validate(rubric: Rubric, assignment: PanelAssignment, reviews: Sequence[Review]) -> dict[str, np.ndarray]:
    by_code: dict[str, list[Review]] = {code: [] for code in assignment.reviewers}
    for r in reviews:
        if r.submission_code not in by_code:
            raise InputError(f"review by {r.expert_id!r} names unknown submission code {r.submission_code!r}")
        if r.expert_id not in assignment.reviewers[r.submission_code]:
            raise InputError(f"expert {r.expert_id!r} was not assigned to {r.submission_code!r}")
        if any(x.expert_id == r.expert_id for x in by_code[r.submission_code]):
            raise InputError(f"expert {r.expert_id!r} reviewed {r.submission_code!r} twice")
        for c in rubric.criteria:
            value = r.scores.get(c.key)
            if not isinstance(value, (int, float)) or not c.scale_min <= value <= c.scale_max:
                raise InputError(
                    f"review by {r.expert_id!r} of {r.submission_code!r}: {c.key} must be a number "
                    f"in [{c.scale_min}, {c.scale_max}]"
                )
        by_code[r.submission_code].append(r)
    matrices = {}
    for code, found in by_code.items():
        if len(found) < assignment.k:
            raise InputError(f"submission {code} has {len(found)} review(s); {assignment.k} are required")
        matrices[code] = np.array([[r.scores[c.key] for c in rubric.criteria] for r in found], dtype=np.float64)
    return matrices


def _reliability(rubric: Rubric, reviews: Sequence[Review]) -> tuple[CriterionReliability, ...]:
    import krippendorff

    experts = sorted({r.expert_id for r in reviews})
    codes = sorted({r.submission_code for r in reviews})
    out = []
    for c in rubric.criteria:
        data = np.full((len(experts), len(codes)), np.nan)
        for r in reviews:
            data[experts.index(r.expert_id), codes.index(r.submission_code)] = r.scores[c.key]
        alpha = None
        try:
            alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement=rubric.level_of_measurement))
        except ValueError:
            alpha = None  # one distinct value or too few pairable units: agreement is undefined
        if alpha is not None and not np.isfinite(alpha):
            alpha = None
        out.append(CriterionReliability(c.key, alpha, alpha is not None and alpha < ALPHA_FLAG_BELOW,
                                        int(np.isfinite(data).sum())))
    return tuple(out)


def score_panel(
    rubric: Rubric,
    assignment: PanelAssignment,
    reviews: Sequence[Review],
    *,
    aggregation: str = "median",
    trim: float = 0.2,
    bootstrap: int = 1000,
    seed: int = 0,
) -> PanelResult:
    """Expert component per team from the reviews of an assignment."""
    if aggregation not in AGGREGATIONS:
        raise InputError(f"unknown aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")
    matrices = _validate(rubric, assignment, reviews)
    weights = rubric.weights
    lows = np.array([c.scale_min for c in rubric.criteria], dtype=np.float64)
    spans = np.array([c.scale_max - c.scale_min for c in rubric.criteria], dtype=np.float64)
    rng = np.random.default_rng(seed)
    scores, per_criterion = {}, {}
    for team, code in assignment.codes.items():
        m = matrices[code]
        point = _aggregate(m[None], aggregation, trim)[0]
        value = float(100.0 * ((point - lows) / spans) @ weights)
        if bootstrap:
            picks = rng.integers(0, len(m), size=(bootstrap, len(m)))
            replicate = 100.0 * ((_aggregate(m[picks], aggregation, trim) - lows) / spans) @ weights
            lower = min(float(np.quantile(replicate, 0.025)), value)
            upper = max(float(np.quantile(replicate, 0.975)), value)
            scores[team] = ComponentScore(value, lower, upper, tuple(float(x) for x in replicate))
        else:
            scores[team] = ComponentScore.exact(value)
        per_criterion[team] = {c.key: float(v) for c, v in zip(rubric.criteria, point)}
    return PanelResult(scores, per_criterion, _reliability(rubric, reviews), assignment,
                       tuple(reviews), aggregation)


# ----------------------------------------------------------------- simulation


def default_experts(submissions: Sequence[Submission], n: int = 9, seed: int = 0) -> tuple[Expert, ...]:
    """A panel of `n` experts; the first few are affiliated with a team or declare
    a conflict, so recusal has work to do."""
    rng = np.random.default_rng(seed)
    experts = []
    for k in range(n):
        affiliations: frozenset[str] = frozenset({"Korea University"}) if k % 2 else frozenset({"KAIST"})
        conflicts: frozenset[str] = frozenset()
        if k < len(submissions) and k < n // 3:
            s = submissions[k]
            if k % 2:
                conflicts = frozenset({s.team})
            else:
                affiliations = affiliations | {s.organisation or s.team}
        experts.append(Expert(f"expert-{k + 1:02d}", f"Expert {k + 1}", affiliations, conflicts))
    order = rng.permutation(n)
    return tuple(experts[i] for i in order)


HARSH_BIAS = -2.5  # scale points: the harsh expert's personal bias
EXPERT_BIAS_SD = 0.3
REVIEW_NOISE_SD = 0.4


def expert_biases(expert_ids: Sequence[str], rng: np.random.Generator, *,
                  harsh_expert: str | None = None) -> dict[str, float]:
    """Each simulated expert's personal bias in scale points (sd 0.3); one expert
    (`harsh_expert`, default: one drawn at random) is a harsh outlier at -2.5."""
    ids = list(expert_ids)
    if not ids:
        raise InputError("a simulated panel needs at least one expert")
    if harsh_expert is None:
        harsh_expert = ids[int(rng.integers(len(ids)))]
    elif harsh_expert not in ids:
        raise InputError(f"unknown harsh expert {harsh_expert!r}")
    bias = {e: float(rng.normal(0.0, EXPERT_BIAS_SD)) for e in ids}
    bias[harsh_expert] = HARSH_BIAS
    return bias


def simulate_review(quality: float, rubric: Rubric, bias: float, rng: np.random.Generator, *,
                    criterion_noise: Mapping[str, float] | None = None) -> dict[str, float]:
    """One simulated expert's scores for a submission of true quality `quality` (0-100):
    quality mapped onto each criterion's scale, plus the expert's `bias` and per-review
    noise (sd 0.4, or `criterion_noise[key]`), rounded and clipped to the scale."""
    share = float(quality) / 100.0
    scores = {}
    for c in rubric.criteria:
        noise = (criterion_noise or {}).get(c.key, REVIEW_NOISE_SD)
        raw = c.scale_min + share * (c.scale_max - c.scale_min) + bias + rng.normal(0.0, noise)
        scores[c.key] = float(np.clip(np.round(raw), c.scale_min, c.scale_max))
    return scores


def simulate_panel(
    teams: Mapping[str, float],
    rubric: Rubric,
    experts: Sequence[Expert],
    k: int,
    seed: int,
    *,
    organisations: Mapping[str, str] | None = None,
    harsh_expert: str | None = None,
    criterion_noise: Mapping[str, float] | None = None,
    aggregation: str = "median",
    bootstrap: int = 1000,
) -> PanelResult:
    """Assign experts with recusal and simulate their reviews (`simulate_review`, with
    biases from `expert_biases`), then score the panel.  `teams[team]` is the team's true
    quality on 0-100."""
    rng = np.random.default_rng(seed)
    submissions = [Submission(t, (organisations or {}).get(t, "")) for t in teams]
    assignment = assign_experts(submissions, experts, k, seed=int(rng.integers(2**31)))
    bias = expert_biases([e.id for e in experts], rng, harsh_expert=harsh_expert)
    reviews = []
    for team, code in assignment.codes.items():
        for expert_id in assignment.reviewers[code]:
            scores = simulate_review(teams[team], rubric, bias[expert_id], rng, criterion_noise=criterion_noise)
            reviews.append(Review(expert_id, code, scores))
    return score_panel(rubric, assignment, reviews, aggregation=aggregation, bootstrap=bootstrap,
                       seed=int(rng.integers(2**31)))

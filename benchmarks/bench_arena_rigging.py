"""How many rigged votes it takes to move a model up one rank: Gauntlet's defences next to a
plain Bradley-Terry fit of the same votes, in one run.

Usage: python benchmarks/bench_arena_rigging.py [--honest 15000] [--seeds 3] [--accuracy 0.9]

The attacker follows Min et al. (ICML 2025, "Improving Your Model Ranking on
Chatbot Arena by Vote Rigging"): it is served battles like anyone (uniform
pairs), recognises the target's answer with a stated accuracy (a classifier
on each answer: right with probability --accuracy), votes for the answer it
takes for the target's, and otherwise votes like the crowd; it clears its
cookies after every --votes-per-cookie votes and votes from --addresses
addresses in --networks networks, at most one vote a second per address.  The
honest crowd (--honest votes over a week, voters behind their own address or
a shared one, a few per network) follows the true strengths with 15% ties.

For each seed the attack's votes are added to the honest votes a prefix at a
time (doubling, then bisection); the "votes needed" is the shortest prefix
after which the target's fitted rating passes the model ranked just above it.
The plain fit counts every vote; Gauntlet counts the votes its vote screen
accepts (`gauntlet.ratings.vote_quality.filter_votes` under the policy the
spec's defaults give, per-second limits on), exactly as a round's decision
does.  Goal (issue 13): >= 10x more rigged votes against Gauntlet, with at
most 1% of honest votes excluded.  A second table (`--no-sweep` skips it) gives
the same attacker ever more networks, to show where the screen stops helping.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from gauntlet.ratings.arena import Vote
from gauntlet.ratings.bradley_terry import fit_log_strengths
from gauntlet.ratings.vote_quality import VotePolicy, filter_votes

N_MODELS = 10
DAY = 86400.0
POLICY = VotePolicy(voter_per_second=1, address_per_second=5)  # the spec's defaults, per-second limits on


def strengths() -> np.ndarray:
    """True log-strengths, best first; the target is ranked 6th, ~25 Elo behind the 5th."""
    elo = np.array([1250, 1200, 1160, 1130, 1100, 1075, 1040, 1000, 960, 900], dtype=float)
    return (elo - elo.mean()) * math.log(10) / 400


def crowd_choice(rng, theta, a: int, b: int) -> str:
    if rng.random() < 0.15:
        return "tie"
    return "a" if rng.random() < 1 / (1 + math.exp(theta[b] - theta[a])) else "b"


def honest_votes(rng, theta, n: int) -> list[Vote]:
    votes, at = [], 0.0
    voters = max(1, n // 6)
    for k in range(n):
        at += rng.exponential(7 * DAY / n)
        v = int(rng.integers(voters))
        address = v if v % 10 else v // 50 * 50  # one voter in ten shares an address (a campus, a café)
        a, b = rng.choice(N_MODELS, size=2, replace=False)
        votes.append(Vote(f"h{k}", f"honest-{v}", f"p{rng.integers(400)}", f"m{a}", f"m{b}",
                          crowd_choice(rng, theta, a, b), str(int(at // DAY)), k, f"addr-{address}",
                          f"net-{address // 4}", at))
    return votes


def attack_votes(rng, theta, n: int, target: int, accuracy: float, addresses: int, networks: int,
                 per_cookie: int) -> list[Vote]:
    votes = []
    for k in range(n):
        a, b = (int(x) for x in rng.choice(N_MODELS, size=2, replace=False))
        seen_as_target = [side for side, m in (("a", a), ("b", b))
                          if (rng.random() < accuracy) == (m == target)]
        choice = seen_as_target[0] if len(seen_as_target) == 1 else crowd_choice(rng, theta, a, b)
        address = k % addresses
        votes.append(Vote(f"r{k}", f"rig-cookie-{k // per_cookie}", f"p{rng.integers(400)}", f"m{a}", f"m{b}",
                          choice, "", 0, f"rig-addr-{address}", f"rig-net-{address % networks}"))
    return votes


def spread(attack: list[Vote]) -> list[Vote]:
    """An attacker with k votes to cast spreads them evenly over the week."""
    step = 7 * DAY / max(1, len(attack))
    return [Vote(v.battle_id, v.voter_id, v.prompt_id, v.model_a, v.model_b, v.choice, str(int(k * step // DAY)),
                 0, v.address, v.network, (k + 0.5) * step) for k, v in enumerate(attack)]


def fitted_order(votes: list[Vote]) -> np.ndarray:
    n = N_MODELS
    w = np.zeros((n, n))
    s = np.zeros((n, n))
    score = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
    for v in votes:
        a, b = int(v.model_a[1:]), int(v.model_b[1:])
        i, j, sa = (a, b, score[v.choice]) if a < b else (b, a, 1.0 - score[v.choice])
        w[i, j] += 1
        s[i, j] += sa
    i, j = np.triu_indices(n, 1)
    theta = fit_log_strengths(i, j, w[i, j], s[i, j], n, l2=1e-6)
    return theta


def passes(theta: np.ndarray, target: int, above: int) -> bool:
    return theta[target] > theta[above]


def interleave(honest: list[Vote], attack: list[Vote]) -> list[Vote]:
    merged = sorted(honest + attack, key=lambda v: v.at)
    return [Vote(v.battle_id, v.voter_id, v.prompt_id, v.model_a, v.model_b, v.choice, v.day, k, v.address,
                 v.network, v.at) for k, v in enumerate(merged)]


def needed(honest, attack, target, above, counted, limit) -> int | None:
    """Fewest attack votes (a prefix of `attack`) after which the target passes `above`."""
    def moved(k: int) -> bool:
        return passes(fitted_order(counted(honest, attack[:k])), target, above)

    k, previous = 25, 0
    while not moved(k):
        previous, k = k, k * 2
        if k > limit:
            return None
    while k - previous > max(5, previous // 20):
        middle = (k + previous) // 2
        previous, k = (previous, middle) if moved(middle) else (middle, k)
    return k


def plain(honest, attack) -> list[Vote]:
    return honest + attack


def defended(honest, attack) -> list[Vote]:
    return list(filter_votes(interleave(honest, spread(attack)), POLICY).accepted)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--honest", type=int, default=15000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--accuracy", type=float, default=0.9, help="how often the classifier is right about an answer")
    ap.add_argument("--addresses", type=int, default=4)
    ap.add_argument("--networks", type=int, default=2)
    ap.add_argument("--votes-per-cookie", type=int, default=3)
    ap.add_argument("--budget", type=int, default=40000, help="most rigged votes tried")
    ap.add_argument("--no-sweep", action="store_true", help="skip the table of attackers with more networks")
    args = ap.parse_args()
    theta = strengths()
    target, above = 5, 4
    print(f"{N_MODELS} models, target ranked {target + 1}th (true gap to the {above + 1}th: "
          f"{(theta[above] - theta[target]) * 400 / math.log(10):.0f} Elo); {args.honest} honest votes over 7 days; "
          f"attacker: classifier accuracy {args.accuracy}, {args.addresses} addresses in {args.networks} networks, "
          f"new cookie every {args.votes_per_cookie} votes")
    print(f"\n{'seed':>4}{'plain BT: votes needed':>24}{'Gauntlet: votes needed':>25}{'ratio':>9}"
          f"{'honest excluded':>17}{'rigged counted':>16}")
    ratios, excluded_shares = [], []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        honest = honest_votes(rng, theta, args.honest)
        if passes(fitted_order(honest), target, above):
            print(f"{seed:>4}  (the honest votes alone put the target above; seed skipped)")
            continue
        attack = attack_votes(rng, theta, args.budget, target, args.accuracy, args.addresses, args.networks,
                              args.votes_per_cookie)
        k_plain = needed(honest, attack, target, above, plain, args.budget)
        k_defended = needed(honest, attack, target, above, defended, args.budget)
        review = filter_votes(interleave(honest, spread(attack[: k_plain or args.budget])), POLICY)
        honest_out = sum(1 for e in review.excluded if e.vote.voter_id.startswith("honest"))
        rigged_in = sum(1 for v in review.accepted if v.voter_id.startswith("rig"))
        share = honest_out / len(honest)
        excluded_shares.append(share)
        ratio = (k_defended or args.budget) / k_plain if k_plain else float("nan")
        ratios.append(ratio)
        shown = f"{k_defended}" if k_defended else f"> {args.budget} (not moved)"
        print(f"{seed:>4}{k_plain or '> budget':>24}{shown:>25}{('>' if not k_defended else '') + f'{ratio:.0f}x':>9}"
              f"{share:>16.2%}{rigged_in:>10} of {k_plain}")
    if ratios:
        worst = min(ratios)
        print(f"\nfewest-fold more rigged votes needed against Gauntlet: {worst:.0f}x (goal >= 10x): "
              f"{'MET' if worst >= 10 else 'NOT MET'}")
        print(f"honest votes excluded: at most {max(excluded_shares):.2%} (goal <= 1%): "
              f"{'MET' if max(excluded_shares) <= 0.01 else 'NOT MET'}")
    if not args.no_sweep:
        sweep(args, theta, target, above)


def sweep(args, theta, target: int, above: int) -> None:
    """Where the vote screen stops helping: the same attacker with ever more networks (two
    addresses in each), seed 0.  Every group the screen tests (a cookie, an address, a
    network) then casts too few votes to stand out, and rigged votes count like honest
    ones; what is left against such an attacker is who may vote (`voters = "signed_in"`)
    and what a vote costs (`proof_of_work_bits`), which this simulation does not model."""
    rng = np.random.default_rng(0)
    honest = honest_votes(rng, theta, args.honest)
    print(f"\nattackers with more networks (seed 0, two addresses per network, new cookie every "
          f"{args.votes_per_cookie} votes)")
    print(f"{'networks':>8}{'plain BT: votes needed':>24}{'Gauntlet: votes needed':>25}{'ratio':>9}")
    for networks in (2, 8, 32, 128):
        attack = attack_votes(np.random.default_rng(1), theta, args.budget, target, args.accuracy, 2 * networks,
                              networks, args.votes_per_cookie)
        k_plain = needed(honest, attack, target, above, plain, args.budget)
        k_defended = needed(honest, attack, target, above, defended, args.budget)
        ratio = (k_defended or args.budget) / k_plain if k_plain else float("nan")
        shown = f"{k_defended}" if k_defended else f"> {args.budget} (not moved)"
        print(f"{networks:>8}{k_plain or '> budget':>24}{shown:>25}{('>' if not k_defended else '') + f'{ratio:.0f}x':>9}")


if __name__ == "__main__":
    main()

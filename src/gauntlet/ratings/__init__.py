"""Human evaluation: the blind public arena and the expert panel.

Modules (import what you need; nothing heavy is imported here):

- `votes`, `bradley_terry`, `style`: FastChat-format vote files -> Elo-scale
  Bradley-Terry ratings with bootstrap intervals and ranks
  (`gauntlet ratings fit`).
- `arena`, `identity`, `sampling`, `vote_quality`, `arena_simulation`:
  prompt sets, cached answers, identity screening, blind battles, active
  sampling, vote filters, and a simulated arena for the demo.
- `user_component`: leaderboard -> 0-100 user-evaluation `ComponentScore`s.
- `panel`, `panel_scoring`: rubrics, recusal-aware assignment, robust
  aggregation, Krippendorff's alpha, and the 0-100 expert `ComponentScore`s.
- `synthetic`: votes drawn from known strengths (tests, benchmarks).
"""

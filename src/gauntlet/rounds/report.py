"""The static HTML report of a round: what the public, teams and journalists read.

It renders the web app's own templates (the ranking table is shared with the live
leaderboard) from their folder, without importing the web app.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from gauntlet import __version__
from gauntlet.plots import inline_svg

TEMPLATES = Path(__file__).parent.parent / "web" / "templates"


def bilingual(ko: str, en: str) -> Markup:
    """A label in Korean with its English beside it: the web app's `tr` (the report renders
    its templates without importing the web app)."""
    return Markup('<span lang="ko">{}</span> <span class="en" lang="en">{}</span>').format(escape(ko), escape(en))


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals["tr"] = bilingual
    return env


def totals_plot_svg(ranking: list[dict], intervals: dict[str, tuple[float, float]], names: dict[str, str]) -> str:
    """Horizontal dot-and-whisker plot of totals with their intervals, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(reversed(ranking))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.0))
    for y, row in enumerate(rows):
        lo, hi = intervals.get(row["team"], (row["total"], row["total"]))
        ax.plot([lo, hi], [y, y], color="#8a94a6", lw=2)
        ax.plot(row["total"], y, "o", color="#2457c5")
    ax.set_yticks(range(len(rows)), [names.get(r["team"], r["team"]) for r in rows])
    ax.set_xlabel("total score (0-100)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return inline_svg(fig)


def render_round_report(path: Path, *, board: dict, weights: dict, audit_rows: list[dict], alpha: float,
                        inputs_file: str, ledger_head: str | None = None,
                        total_intervals: dict[str, tuple[float, float]] | None = None,
                        extra_sections: list[dict] | None = None, own_work: dict | None = None) -> Path:
    names = {k: v.get("name", k) for k, v in board["teams"].items()}
    plot = totals_plot_svg(board["decision"]["outputs"]["ranking"], total_intervals or {}, names)
    html = _environment().get_template("round_report.html").render(
        board=board, weights=weights, audit_rows=audit_rows, alpha=alpha, inputs_file=inputs_file,
        ledger_head=ledger_head, totals_plot=plot, extra_sections=extra_sections or [], own_work=own_work,
        component_names=board.get("component_names") or list(weights), version=__version__,
    )
    path.write_text(html, encoding="utf-8")
    return path

"""The static HTML report of a round: what the public, teams and journalists read.

It renders the web app's own templates (the ranking table is shared with the live
leaderboard) from their folder, without importing the web app.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gauntlet import __version__, i18n
from gauntlet.plots import leaderboard_svg

TEMPLATES = Path(__file__).parent.parent / "web" / "templates"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    i18n.install(env)
    return env


def render_round_report(path: Path, *, board: dict, weights: dict, audit_rows: list[dict], alpha: float,
                        inputs_file: str, ledger_head: str | None = None,
                        total_intervals: dict[str, tuple[float, float]] | None = None,
                        extra_sections: list[dict] | None = None, own_work: dict | None = None,
                        language: str | None = None) -> Path:
    """Writes the report in `language` (default: the current one)."""
    names = {k: v.get("name", k) for k, v in board["teams"].items()}
    out = board["decision"]["outputs"]
    with i18n.using(language) as lang:
        plot = leaderboard_svg(out["ranking"], total_intervals or {}, names, out.get("eliminated", ()),
                               (out.get("uncertainty") or {}).get("close_calls", ()))
        html = _environment().get_template("round_report.html").render(
            board=board, weights=weights, audit_rows=audit_rows, alpha=alpha, inputs_file=inputs_file,
            ledger_head=ledger_head, totals_plot=plot, extra_sections=extra_sections or [], own_work=own_work,
            component_names=board.get("component_names") or list(weights), version=__version__, lang=lang,
        )
    path.write_text(html, encoding="utf-8")
    return path

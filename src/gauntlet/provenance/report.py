"""Audit report as HTML a journalist can read (Jinja2 + an inline matplotlib SVG)."""

from __future__ import annotations

import math
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gauntlet import i18n
from gauntlet.i18n import _
from gauntlet.plots import inline_svg, use_fonts

TEMPLATES = Path(__file__).parent / "templates"


def _plot(ref, alpha: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_fonts()
    names = [m.name for m in ref.modules]
    heights = [min(300.0, -math.log10(max(m.p_value, 1e-300))) for m in ref.modules]
    colours = {"derived": "#b00020", "inconclusive": "#e65100", "independent": "#1b5e20"}
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(names) + 1.2))
    ax.barh(range(len(names)), heights, color=[colours[m.verdict] for m in ref.modules])
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(-math.log10(alpha), color="k", ls="--", lw=1)
    ax.set_xlabel(_("evidence of reuse, -log10(p)  (dashed: the 'derived' threshold)"))
    fig.tight_layout()
    return inline_svg(fig)


def environment() -> Environment:
    """The reports' templates (`provenance/templates`), with the catalogue installed."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    i18n.install(env)
    return env


def render_html(report, language: str | None = None) -> str:
    """The audit report as an HTML page in `language` (default: the current one)."""
    from gauntlet.provenance.audit import ASSUMPTIONS, BLIND_SPOTS, INDEPENDENT_ABOVE

    with i18n.using(language) as lang:
        return environment().get_template("audit_report.html").render(
            r=report, lang=lang,
            plots=["" if getattr(ref, "screened_out", False) else _plot(ref, report.alpha) for ref in report.references],
            assumptions=[_(a) for a in ASSUMPTIONS],
            blind=[_(b) for b in BLIND_SPOTS],
            independent_above=INDEPENDENT_ABOVE,
        )


def write_html(report, path, language: str | None = None) -> Path:
    html = render_html(report, language)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

"""Audit report as HTML a journalist can read (Jinja2 + an inline matplotlib SVG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gauntlet import i18n
from gauntlet.i18n import _
from gauntlet.plots import inline_svg, pyplot

TEMPLATES = Path(__file__).parent / "templates"


def _sci(value, digits: int) -> str:
    # A report stored by an earlier release may lack a figure: say so rather than fail the page.
    return f"{value:.{digits}e}" if isinstance(value, (int, float)) else "—"


def _get(thing, key: str, default=None):
    # A report is an `AuditReport` when just computed, its `to_dict()` form when read from the store.
    return thing.get(key, default) if isinstance(thing, Mapping) else getattr(thing, key, default)


def _plot(ref, alpha: float) -> str:
    plt = pyplot()
    modules = _get(ref, "modules", ())
    names = [_get(m, "name") for m in modules]
    heights = [min(300.0, -math.log10(max(_get(m, "p_value"), 1e-300))) for m in modules]
    colours = {"derived": "#b00020", "inconclusive": "#e65100", "independent": "#1b5e20"}
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(names) + 1.2))
    ax.barh(range(len(names)), heights, color=[colours[_get(m, "verdict")] for m in modules])
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
    env.filters["sci"] = _sci
    return env


def _evidence_context(references, alpha: float) -> dict:
    from gauntlet.provenance.audit import ASSUMPTIONS, BLIND_SPOTS

    return {"plots": ["" if _get(ref, "screened_out", False) or not _get(ref, "modules") else _plot(ref, alpha)
                      for ref in references],
            "assumptions": [_(a) for a in ASSUMPTIONS], "blind": [_(b) for b in BLIND_SPOTS]}


def render_evidence(references, alpha: float, language: str | None = None) -> str:
    """The evidence of each reference as HTML (plot and tables), from an `AuditReport`'s
    references or their stored `to_dict()` form; no plot for a reference with no module."""
    from markupsafe import Markup

    with i18n.using(language):
        return Markup(environment().get_template("audit_evidence.html").render(
            r={"references": references}, **_evidence_context(references, alpha)))


def render_html(report, language: str | None = None) -> str:
    """The audit report as an HTML page in `language` (default: the current one)."""
    from gauntlet.provenance.audit import INDEPENDENT_ABOVE

    with i18n.using(language) as lang:
        return environment().get_template("audit_report.html").render(
            r=report, lang=lang, independent_above=INDEPENDENT_ABOVE,
            **_evidence_context(report.references, report.alpha))


def write_html(report, path, language: str | None = None) -> Path:
    html = render_html(report, language)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

"""Chain verification as HTML: the run as a plot (evidence of each link, drift per step)."""

from __future__ import annotations

import math
from pathlib import Path

from gauntlet import i18n
from gauntlet.i18n import _
from gauntlet.plots import inline_svg, pyplot


COLOURS = {"derived": "#1b5e20", "inconclusive": "#e65100", "independent": "#b00020"}


def chain_plot(document: dict) -> str:
    """Two panels over the links: -log10 p of each link (and the strongest reference
    evidence at each step), and drift per declared step. Drawn from the report's JSON
    document (`ChainReport.to_dict()`), so a stored verification draws the same plot."""
    plt = pyplot()
    links = document["links"]
    labels = [f"{link['from']}→{link['to']}" for link in links]
    x = range(len(labels))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True)
    heights = [min(300.0, -math.log10(max(link["p_value"], 1e-300))) for link in links]
    top.bar(x, heights, color=[COLOURS[link["verdict"]] for link in links], label=_("link to predecessor"))
    for ref in document["references"]:
        by_step = {}
        for t in ref["tests"]:
            by_step[t["step"]] = min(by_step.get(t["step"], 1.0), t["p_value"])
        ys = [min(300.0, -math.log10(max(by_step.get(link["to"], 1.0), 1e-300))) for link in links]
        top.plot(x, ys, marker="o", lw=1, label=_("vs %(reference)s", reference=ref["reference"]))
    top.axhline(-math.log10(document["alpha"]), color="k", ls="--", lw=1)
    top.set_ylabel("-log10(p)")
    top.set_title(_("evidence of derivation (dashed: the 'derived' threshold)"), fontsize=9)
    top.legend(fontsize=7)
    rates = [link["drift_per_step"] if link["drift_per_step"] else float("nan") for link in links]
    bottom.plot(x, rates, marker="s", color="#37474f")
    for i, link in enumerate(links):
        if not link["drift_plausible"]:
            bottom.plot([i], [rates[i]], marker="x", color="#b00020", ms=10)
    if any(r > 0 for r in rates if r == r):
        bottom.set_yscale("log")
    bottom.set_ylabel(_("drift per step"))
    bottom.set_xticks(list(x), labels, rotation=45, fontsize=7)
    fig.tight_layout()
    return inline_svg(fig)


def render_html(report, language: str | None = None) -> str:
    """The chain's verification as an HTML page in `language` (default: the current one)."""
    from gauntlet.provenance.chain import DRIFT_FACTOR, DRIFT_RULE_MESSAGES
    from gauntlet.provenance.report import environment

    with i18n.using(language) as lang:
        rules = [_(rule, factor=f"{DRIFT_FACTOR:g}") for rule in DRIFT_RULE_MESSAGES]
        return environment().get_template("chain_report.html").render(
            r=report, lang=lang, plot=chain_plot(report.to_dict()), rules=rules)


def write_html(report, path, language: str | None = None) -> Path:
    html = render_html(report, language)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

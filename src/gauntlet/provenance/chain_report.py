"""Chain verification as HTML: the run as a plot (evidence of each link, drift per step)."""

from __future__ import annotations

import math
from pathlib import Path

from jinja2 import Environment, select_autoescape

from gauntlet.plots import inline_svg

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Training-run verification</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
.broken,.independent,.not-fresh{color:#b00020;font-weight:bold}.consistent,.fresh{color:#1b5e20}
.derived{color:#1b5e20}.inconclusive,.unknown{color:#e65100;font-weight:bold}
.box{background:#f6f6f6;padding:.8rem 1rem;border-radius:6px}</style></head><body>
<h1>Training-run verification</h1>
<p class="box">Verdict: <span class="{{ r.verdict }}">{{ r.verdict }}</span>{% if r.first_offending_step is not none %};
first offending step: <b>{{ r.first_offending_step }}</b>{% endif %}.
A link is <b>derived</b> when the chance that independently made weights would match this well is below
{{ "%.0e"|format(r.alpha) }}. A chain is consistent when every link is derived, step 0 is a fresh
initialisation, no model and no update along it is derived from a reference, and its drift is plausible.</p>
{{ plot|safe }}
<h2>Step 0</h2><p>Origin: <span class="{{ r.origin.verdict }}">{{ r.origin.verdict }}</span> ({{ r.origin.method }}): {{ r.origin.detail }}</p>
<h2>Links</h2>
<table><tr><th>From</th><th>To</th><th>Verdict</th><th>p-value</th><th>Steps</th><th>Tokens</th><th>Drift</th><th>Drift per step</th></tr>
{% for l in r.links %}<tr><td>{{ l.source.key }}</td><td>{{ l.target.key }}</td><td class="{{ l.verdict }}">{{ l.verdict }}</td>
<td>{{ "%.1e"|format(l.p_value) }}</td><td>{{ l.steps if l.steps is not none else "—" }}</td><td>{{ "{:,}".format(l.tokens) if l.tokens is not none else "—" }}</td>
<td>{{ "%.3g"|format(l.drift) }}</td><td>{{ "%.2e"|format(l.drift_per_step) if l.drift_per_step else "—" }}{% if not l.plausible %} (implausible){% endif %}</td></tr>{% endfor %}</table>
<h2>References</h2>
{% if r.references %}<table><tr><th>Reference</th><th>Verdict</th><th>First step</th><th>Smallest corrected p</th></tr>
{% for x in r.references %}<tr><td>{{ x.reference }}</td><td class="{{ 'broken' if x.verdict == 'derived' else x.verdict }}">{{ x.verdict }}</td>
<td>{{ x.first_step if x.first_step is not none else "—" }}</td><td>{{ "%.1e"|format(x.p_value) }}</td></tr>{% endfor %}</table>
{% else %}<p>No references were given.</p>{% endif %}
<h2>Findings</h2><ul>{% for f in r.findings %}<li>{{ f }}</li>{% else %}<li>None.</li>{% endfor %}</ul>
<h2>Drift rules</h2><ul>{% for d in rules %}<li>{{ d }}</li>{% endfor %}</ul>
</body></html>"""

COLOURS = {"derived": "#1b5e20", "inconclusive": "#e65100", "independent": "#b00020"}


def chain_plot(document: dict) -> str:
    """Two panels over the links: -log10 p of each link (and the strongest reference
    evidence at each step), and drift per declared step. Drawn from the report's JSON
    document (`ChainReport.to_dict()`), so a stored verification draws the same plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    links = document["links"]
    labels = [f"{link['from']}→{link['to']}" for link in links]
    x = range(len(labels))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True)
    heights = [min(300.0, -math.log10(max(link["p_value"], 1e-300))) for link in links]
    top.bar(x, heights, color=[COLOURS[link["verdict"]] for link in links], label="link to predecessor")
    for ref in document["references"]:
        by_step = {}
        for t in ref["tests"]:
            by_step[t["step"]] = min(by_step.get(t["step"], 1.0), t["p_value"])
        ys = [min(300.0, -math.log10(max(by_step.get(link["to"], 1.0), 1e-300))) for link in links]
        top.plot(x, ys, marker="o", lw=1, label=f"vs {ref['reference']}")
    top.axhline(-math.log10(document["alpha"]), color="k", ls="--", lw=1)
    top.set_ylabel("-log10(p)")
    top.set_title("evidence of derivation (dashed: 'derived' threshold)", fontsize=9)
    top.legend(fontsize=7)
    rates = [link["drift_per_step"] if link["drift_per_step"] else float("nan") for link in links]
    bottom.plot(x, rates, marker="s", color="#37474f")
    for i, link in enumerate(links):
        if not link["drift_plausible"]:
            bottom.plot([i], [rates[i]], marker="x", color="#b00020", ms=10)
    if any(r > 0 for r in rates if r == r):
        bottom.set_yscale("log")
    bottom.set_ylabel("drift per step")
    bottom.set_xticks(list(x), labels, rotation=45, fontsize=7)
    fig.tight_layout()
    return inline_svg(fig)


def write_html(report, path) -> Path:
    from gauntlet.provenance.chain import DRIFT_RULES

    env = Environment(autoescape=select_autoescape(default=True))
    html = env.from_string(TEMPLATE).render(r=report, plot=chain_plot(report.to_dict()), rules=DRIFT_RULES)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

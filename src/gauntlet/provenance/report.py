"""Audit report as HTML a journalist can read (Jinja2 + an inline matplotlib SVG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from jinja2 import Environment, select_autoescape

from gauntlet.plots import inline_svg

# Each reference's evidence (the per-module plot and tables), then what the test assumes and
# cannot see: the body of the report file, and what the web app shows on a team's audit page.
EVIDENCE = """{% for ref in r.references %}
<h2>Against {{ ref.reference }}: <span class="{{ ref.verdict }}">{{ ref.verdict }}</span></h2>
<p>p-value {{ ref.p_value|sci(2) }} (corrected for {{ r.references|length }} reference(s)); {{ ref.tensors_compared }} candidate tensors compared.
{% if ref.origin %}Reference origin: {% for k, v in ref.origin.items() %}{{ k }}: {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}</p>
{{ plots[loop.index0]|safe }}
{% if ref.screened_out %}<p>Ruled out by the library screen: no tensor, width or whole-model trace came near what the
full tests would need, so they were not run and this reference counts with p = 1 (which keeps every p-value valid).</p>
{% elif ref.whole_model %}<p>Whole model, every tensor the two share by name (as stored or transposed), all widths at once
({{ ref.whole_model.widths|join(", ") }}): same-position similarity {{ "%.1f"|format(ref.whole_model.z) }} standard deviations
above what shuffling gives, {{ ref.whole_model.fixed_points }}/{{ ref.whole_model.units }} units in place;
calibrated p = {{ ref.whole_model.p_value|sci(1) }} (for independent models this p-value is spread evenly
between 0 and 1). Bound over every per-tensor test, valid however they depend on each other:
p = {{ ref.p_value_bound|sci(1) }}. The model's p-value is the smaller of the two, each charged its share.</p>
{% else %}<p>No tensor shares a name and shape with the reference (renamed or a different architecture), so there is
no whole-model test; the model's p-value is the bound over every per-tensor test, valid however they depend on each
other: p = {{ ref.p_value_bound|sci(1) }}, charged its share.</p>{% endif %}
{% if ref.shared_axes %}<p>Per-width tests, pooling every tensor that shares a width (units matched to the same
index / units compared, p-value): {% for a in ref.shared_axes %}width {{ a.length }}: {{ a.fixed_points }}/{{ a.units }},
p = {{ a.p_value|sci(1) }}{% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
<table><tr><th>Candidate module</th><th>Kind</th><th>Counterpart in reference</th><th>Strongest test</th><th>Units matched to the same index</th><th>p-value</th><th>Verdict</th></tr>
{% for m in ref.modules %}<tr><td>{{ m.name }}</td><td>{{ m.kind }}</td><td>{{ m.counterpart or "—" }}</td><td>{{ m.test }}</td>
<td>{{ m.statistic or 0 }}</td><td>{{ m.p_value|sci(2) }}</td><td class="{{ m.verdict }}">{{ m.verdict }}</td></tr>{% endfor %}</table>
{% if ref.excluded %}<h3>Left out of the evidence</h3>
<p>Independent training makes a tensor's units interchangeable only where initialisation drew them at random.
These axes were found, by their content, to be fixed by the configuration or otherwise not interchangeable, and
were not used. A tensor identical in both models is listed as such: a formula table is identical in every model
of its configuration, so this never makes a model derived.</p>
<table><tr><th>Model</th><th>Tensor</th><th>Axis</th><th>Why</th><th>Identical in both</th></tr>
{% for e in ref.excluded %}<tr><td>{{ e.side }}</td><td>{{ e.tensor }} {{ e.shape }}</td><td>{{ e.axis }}</td>
<td>{{ e.reason }}: {{ e.detail }}</td><td>{{ "yes" if e.identical_in_both else "no" }}</td></tr>{% endfor %}</table>{% endif %}
<h3>Tokenizer evidence (separate from the weights)</h3>
{% if ref.tokenizer %}<p>Vocabulary sizes {{ ref.tokenizer.vocab_sizes[0] }} and {{ ref.tokenizer.vocab_sizes[1] }};
Jaccard overlap {{ ref.tokenizer.jaccard }}; {{ ref.tokenizer.same_id }} tokens at the same id;
{{ ref.tokenizer.merges_shared }} of the first {{ ref.tokenizer.merges_compared }} merges shared
({{ ref.tokenizer.merges_same_rank }} at the same rank). {{ ref.tokenizer.note }}</p>
{% else %}<p>No tokenizer.json on one side; nothing to compare.</p>{% endif %}
{% endfor %}
<h2>What this test assumes</h2><ul>{% for a in assumptions %}<li>{{ a }}</li>{% endfor %}</ul>
<h2>What it cannot see</h2><ul>{% for a in blind %}<li>{{ a }}</li>{% endfor %}</ul>
"""

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Independence audit: {{ r.candidate }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
.derived{color:#b00020;font-weight:bold}.independent{color:#1b5e20}.inconclusive{color:#e65100;font-weight:bold}
.box{background:#f6f6f6;padding:.8rem 1rem;border-radius:6px}</style></head><body>
<h1>Independence audit of <em>{{ r.candidate }}</em></h1>
<p class="box">Overall verdict: <span class="{{ r.verdict }}">{{ r.verdict }}</span>.
A model is called <b>derived</b> when the chance that independently trained weights would match this well
is below {{ "%.0e"|format(r.alpha) }} (after correcting for every comparison made); <b>independent</b> when that chance is
at least {{ independent_above }}; <b>inconclusive</b> in between.</p>
<p>How to read the tables: each test pairs up the candidate's units (neurons, channels) with the reference's
by how similar their weights are, then counts how many land on the same position. For unrelated models
that is like shuffling a deck twice and counting cards in the same place: about one, rarely more than five
or six. Dozens in place is what copied weights look like, even after renaming, reordering or further training.</p>
{{ evidence|safe }}
</body></html>"""


def _sci(value, digits: int) -> str:
    # A report stored by an earlier release may lack a figure: say so rather than fail the page.
    return f"{value:.{digits}e}" if isinstance(value, (int, float)) else "—"


def _environment() -> Environment:
    env = Environment(autoescape=select_autoescape(default=True))
    env.filters["sci"] = _sci
    return env


def _get(thing, key: str, default=None):
    # A report is an `AuditReport` when just computed, its `to_dict()` form when read from the store.
    return thing.get(key, default) if isinstance(thing, Mapping) else getattr(thing, key, default)


def _plot(ref, alpha: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modules = _get(ref, "modules", ())
    names = [_get(m, "name") for m in modules]
    heights = [min(300.0, -math.log10(max(_get(m, "p_value"), 1e-300))) for m in modules]
    colours = {"derived": "#b00020", "inconclusive": "#e65100", "independent": "#1b5e20"}
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(names) + 1.2))
    ax.barh(range(len(names)), heights, color=[colours[_get(m, "verdict")] for m in modules])
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(-math.log10(alpha), color="k", ls="--", lw=1)
    ax.set_xlabel("evidence of reuse, -log10(p)  (dashed: 'derived' threshold)")
    fig.tight_layout()
    return inline_svg(fig)


def render_evidence(references, alpha: float) -> str:
    """The evidence of each reference as HTML (plot and tables), from an `AuditReport`'s
    references or their stored `to_dict()` form; no plot for a reference with no module."""
    from markupsafe import Markup

    from gauntlet.provenance.audit import ASSUMPTIONS, BLIND_SPOTS

    env = _environment()
    plots = ["" if _get(ref, "screened_out", False) or not _get(ref, "modules") else _plot(ref, alpha)
             for ref in references]
    return Markup(env.from_string(EVIDENCE).render(r={"references": references}, plots=plots,
                                                   assumptions=ASSUMPTIONS, blind=BLIND_SPOTS))


def write_html(report, path) -> Path:
    from gauntlet.provenance.audit import INDEPENDENT_ABOVE

    html = _environment().from_string(TEMPLATE).render(r=report, evidence=render_evidence(report.references, report.alpha),
                                            independent_above=INDEPENDENT_ABOVE)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

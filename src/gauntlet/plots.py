"""Figures as inline SVG, so a page or report is one file that reads offline and under a
strict Content-Security-Policy.

The leaderboard and team figures keep their text as SVG text (not glyph paths): the
reader's browser draws it in its own fonts, Korean names included, and a screen reader
or a search finds it.  They scale to their container (a 390 px phone included) through
their viewBox."""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from gauntlet.i18n import _, label


ADVANCES, OUT, CLOSE, INK, MUTED = "#1e7b4d", "#b3261e", "#9a6700", "#1d2330", "#8a94a6"
COMPONENT_COLOURS = ("#2457c5", "#9a6700", "#7b3fa0", "#1e7b4d")

# Hangul in a figure (Korean labels, team names) needs a font that has it; matplotlib's own
# DejaVu Sans does not, and falls back per glyph to the next family that is installed.
HANGUL_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Noto Serif CJK KR", "UnDotum")


@lru_cache(maxsize=None)
def use_fonts() -> tuple[str, ...]:
    """Put the installed Hangul fonts behind DejaVu Sans (call before making a figure);
    returns the families used.  The SVG embeds the glyphs, so readers need no font."""
    import matplotlib
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed & set(HANGUL_FONTS):  # matplotlib's cache may predate the system's CJK fonts
        for path in font_manager.findSystemFonts():
            if any(mark in Path(path).name for mark in ("CJK", "Nanum", "NotoSansKR")):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a font file matplotlib cannot read
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
    hangul = [f for f in installed if f in HANGUL_FONTS or "CJK" in f]
    families = ("DejaVu Sans", *sorted(hangul, key=lambda f: (f not in HANGUL_FONTS, f))[:2])
    matplotlib.rcParams["font.family"] = list(families)
    return families


def inline_svg(fig) -> str:
    """The matplotlib figure as an `<svg>` element (no XML prolog), and the figure closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def pyplot():
    """matplotlib's pyplot for drawing off screen, with the Hangul fonts behind its own: what
    every figure of pages and reports starts from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_fonts()  # text is measured with the fonts even when it stays text in the SVG

    return plt


def _responsive(svg: str, label: str) -> str:
    """Drop the fixed size (the viewBox keeps the shape) and name the figure for screen readers."""
    head, rest = svg.split(">", 1)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return f'{head} class="plot" role="img" aria-label="{label}">{rest}'


def _text_svg(fig, label: str) -> str:
    return _responsive(inline_svg(fig), label)


def cut_between(ranking: Sequence[dict], eliminated: Sequence[dict]) -> float | None:
    """Where the performance cut falls: halfway between the lowest total that advanced and the
    highest total cut for performance (None when nobody was cut for performance)."""
    out = {e["team"]: e.get("reason") for e in eliminated}
    below = [r["total"] for r in ranking if out.get(r["team"]) == "performance"]
    above = [r["total"] for r in ranking if r["team"] not in out]
    if not below or not above:
        return None
    return (min(above) + max(below)) / 2


def leaderboard_svg(ranking: Sequence[dict], intervals: Mapping[str, tuple[float, float]],
                    names: Mapping[str, str], eliminated: Sequence[dict] = (),
                    close_calls: Sequence[str] = ()) -> str:
    """Each team's total with its interval (dot and whisker), best at the top, coloured by its
    outcome, with the elimination cut as a dashed line.  Narrow on purpose: it reads at a
    phone's width without shrinking its text below the page's."""
    plt = pyplot()
    out = {e["team"]: e.get("reason") for e in eliminated}
    rows = list(reversed(ranking))
    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(4.2, 0.42 * len(rows) + 1.0))
        for y, row in enumerate(rows):
            team = row["team"]
            colour = OUT if team in out else CLOSE if team in close_calls else ADVANCES
            lo, hi = intervals.get(team, (row["total"], row["total"]))
            ax.plot([lo, hi], [y, y], color=colour, lw=2.5, alpha=0.45, solid_capstyle="round")
            ax.plot(row["total"], y, "o", color=colour, ms=6)
        cut = cut_between(ranking, eliminated)
        if cut is not None:
            ax.axvline(cut, color=INK, ls="--", lw=1)
            ax.annotate(_("cut"), (cut, len(rows) - 0.5), xytext=(3, 0), textcoords="offset points",
                        fontsize=8, color=INK, va="center")
        ax.set_yticks(range(len(rows)), [names.get(r["team"], r["team"]) for r in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(_("total (0-100), %(level)s interval", level="95%"))
        ax.grid(axis="x", alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        return _text_svg(fig, _("Each team's total with its %(level)s interval; the dashed line is the elimination cut", level="95%"))


def team_rounds_svg(rounds: Sequence[str], series: Mapping[str, Sequence[tuple[float, float, float] | None]],
                    team_name: str) -> str:
    """A team's scores over rounds: one line per series (each component, and the total),
    each point with its interval; None where a round has no value (not taken part, or not
    published yet)."""
    plt = pyplot()
    with plt.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(4.2, 2.8))
        xs = range(len(rounds))
        for i, (name, points) in enumerate(series.items()):
            colour = INK if name == "total" else COMPONENT_COLOURS[i % len(COMPONENT_COLOURS)]
            shown = [(x, p) for x, p in zip(xs, points) if p is not None]
            if not shown:
                continue
            offset = (i - (len(series) - 1) / 2) * 0.06  # whiskers of one round side by side, not on top
            ax.errorbar([x + offset for x, _ in shown], [p[0] for _, p in shown],
                        yerr=[[p[0] - p[1] for _, p in shown], [p[2] - p[0] for _, p in shown]],
                        fmt="o-", color=colour, lw=2.2 if name == "total" else 1.2, ms=5 if name == "total" else 4,
                        capsize=2, label=label(name))
        ax.set_xticks(list(xs), list(rounds))
        ax.set_xlim(-0.5, len(rounds) - 0.5)
        ax.set_ylabel(_("score (0-100)"))
        ax.grid(axis="y", alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(fontsize=8, frameon=False, loc="best")
        fig.tight_layout()
        return _text_svg(fig, _("%(team)s: scores by round, each with its %(level)s interval", team=team_name, level="95%"))

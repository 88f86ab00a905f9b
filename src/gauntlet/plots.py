"""Figures for the HTML reports: each one inlined as SVG, so a report is one file that
reads offline and under a strict Content-Security-Policy."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

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

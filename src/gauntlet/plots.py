"""Figures for the HTML reports: each one inlined as SVG, so a report is one file that
reads offline and under a strict Content-Security-Policy."""

from __future__ import annotations

import io


def inline_svg(fig) -> str:
    """The matplotlib figure as an `<svg>` element (no XML prolog), and the figure closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]

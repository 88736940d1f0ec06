"""Colours and layout defaults shared by every report figure.

The palette is Okabe & Ito's (2008) set of eight colours that stay distinct under the common forms
of colour blindness; yellow is last because it is hard to see on white. Series also differ by dash
pattern so that a figure still reads in greyscale.
"""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = [
    "DASHES",
    "GREY",
    "HIGHLIGHT",
    "PALETTE",
    "apply_layout",
    "axis_title",
    "colour",
    "dash",
    "wrap_title",
]

# Okabe-Ito, reordered so the first colours have the most contrast on white.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
GREY = "#9A9A9A"
HIGHLIGHT = "#D55E00"
DASHES: tuple[str, ...] = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def colour(i: int) -> str:
    """The i-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def dash(i: int) -> str:
    """The i-th dash pattern (cycling), so series differ by more than colour."""
    return DASHES[i % len(DASHES)]


def axis_title(label: str, unit: str | None) -> str:
    """An axis title that always states the unit ("Caseload (cases/FTE)")."""
    unit = (unit or "").strip()
    if not unit:
        return f"{label} (unit not given)"
    if unit in {"1", "Dmnl", "dmnl", "dimensionless"}:
        return f"{label} (ratio)"
    return f"{label} ({unit})"


def apply_layout(fig: go.Figure, *, title: str, height: int = 420) -> go.Figure:
    """Give a figure the house style: title, palette, readable fonts, responsive width."""
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 17}},
        template="plotly_white",
        colorway=list(PALETTE),
        font={"family": FONT, "size": 13, "color": "#222222"},
        hoverlabel={"font": {"family": FONT, "size": 12}},
        autosize=True,  # width follows the page; only the height is fixed
        height=height,
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
        # legend under the title on the left, clear of the mode bar in the top right corner
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0},
    )
    return fig


def wrap_title(text: str, width: int = 38) -> str:
    """A long axis title broken into lines of at most `width` characters (plotly <br>), so a
    vertical title stays within a figure's height and clear of its title."""
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return "<br>".join(lines)

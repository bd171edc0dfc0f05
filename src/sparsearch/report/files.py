"""Writing a figure as PNG and SVG, and turning the SVG into markup to inline in the page."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from matplotlib import rc_context
from matplotlib.figure import Figure

PNG_DPI = 110
SVG_RC = {"svg.fonttype": "path", "svg.hashsalt": "sparsearch"}  # glyphs as paths; stable ids
NO_METADATA = {"Type": None, "Format": None, "Creator": None, "Date": None}  # reproducible, no URLs


@dataclass(frozen=True)
class SavedFigure:
    name: str
    caption: str
    png: Path
    svg: Path
    markup: str  # the SVG, ready to inline


def save(fig: Figure, out_dir: Path, name: str, caption: str) -> SavedFigure:
    """Write `name`.png and `name`.svg into out_dir."""
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    with rc_context(SVG_RC):
        fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata=NO_METADATA)
    return SavedFigure(name, caption, png, svg, inline_svg(svg.read_text(encoding="utf-8"), name, caption))


def inline_svg(text: str, prefix: str, label: str) -> str:
    """The <svg> element alone (no XML prolog or DOCTYPE), its ids and references prefixed so
    several figures can share one page, labelled for screen readers."""
    svg = text[text.index("<svg") :]
    svg = re.sub(r'(\bid="|href="#|url\(#)', rf"\g<1>{prefix}-", svg)
    return svg.replace("<svg", f'<svg role="img" aria-label="{html.escape(label)}"', 1)

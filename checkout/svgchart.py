"""A tiny server-side SVG bar chart: no JavaScript, no chart CDN, nothing for CSP to allow.

The SVG is accessible on its own (`role="img"`, a `<title>` and a `<desc>` listing the values,
tied by `aria-labelledby`), and pages also show the numbers in a table. Colours and fonts come
from classes styled in static/admin-extra/monitoring.css: no `style` attributes, which the
strict CSP (`style-src 'self'`) would block.
"""

import itertools
import re
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 28, 10
_ids = itertools.count(1)


def nice_ceiling(value: int) -> int:
    """A round axis maximum ≥ value: 1, 2, 5, 10, 20, 50… (at least 1, so empty charts draw)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(*, title: str, labels: list[str], values: list[int]) -> SafeString:
    """An SVG bar chart of `values` (non-negative integers) under `labels`, as markup."""
    if len(labels) != len(values):
        raise ValueError("one label per value")
    uid = f"chart-{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}-{next(_ids)}"
    top = nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = plot_w / max(len(values), 1)
    # Label at most ~12 bars so the text never overlaps.
    every = max(1, -(-len(labels) // 12))
    pairs = list(zip(labels, values, strict=True))
    description = ", ".join(f"{label}: {value}" for label, value in pairs)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-labelledby="{uid}-title {uid}-desc">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(description)}</desc>',
        # Axis: the baseline and the top value.
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}" '
        f'x2="{WIDTH}" y2="{MARGIN_TOP + plot_h}"/>',
        f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 8}" '
        f'text-anchor="end">{top}</text>',
        f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + plot_h}" '
        f'text-anchor="end">0</text>',
    ]
    for n, (label, value) in enumerate(pairs):
        if value < 0:
            raise ValueError("bar charts of counts: values must be >= 0")
        height = plot_h * value / top
        x = MARGIN_LEFT + n * slot + slot * 0.15
        y = MARGIN_TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}"><title>{escape(f"{label}: {value}")}</title></rect>'
        )
        if n % every == 0:
            parts.append(
                f'<text class="label" x="{x + slot * 0.35:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text above is escaped

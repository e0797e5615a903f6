"""The utilisation report as an SVG heatmap: one row per team-local day, one column per local wall hour, each
cell coloured by the hour's busiest cell over the crews. Plain string building (every text escaped): no plotting
library in the bundle. Each cell carries its numbers as data-* attributes, so a reader (or a test) can check
the picture against the JSON report it was drawn from."""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from chalicelib.domain.utilisation import HOURS, ratio

CELL_W, CELL_H = 28, 18
LEFT, TOP, LEGEND = 96, 40, 36
EMPTY, FULL, OVER = (247, 251, 255), (8, 48, 107), "#b30000"  # none booked -> every crew busy; above the crews


def colour(value: float) -> str:
    """Light (nothing booked) to dark blue (every crew busy); red above the crews (crews lowered after booking)."""
    if value > 1.0:
        return OVER
    t = max(0.0, value)
    r, g, b = (round(e + (f - e) * t) for e, f in zip(EMPTY, FULL))
    return f"#{r:02x}{g:02x}{b:02x}"


def render(report: dict) -> str:
    days = report["days"]
    width = LEFT + HOURS * CELL_W + 8
    height = TOP + len(days) * CELL_H + LEGEND
    title = f"Utilisation of {report['teamId']} ({report['timezone']}), {report['from']} to {report['to']}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<text x="4" y="14" font-size="13">{escape(title)}</text>']
    for hour in range(HOURS):
        out.append(f'<text x="{LEFT + hour * CELL_W + 4}" y="{TOP - 6}">{hour:02d}</text>')
    for row, day in enumerate(days):
        y = TOP + row * CELL_H
        out.append(f'<text x="4" y="{y + CELL_H - 5}">{escape(day["date"])}</text>')
        for hour, peak in enumerate(day["hours"]):
            value = ratio(peak, day["crews"])
            out.append(
                f'<rect class="cell" x="{LEFT + hour * CELL_W}" y="{y}" width="{CELL_W - 1}" height="{CELL_H - 1}" '
                f'fill="{colour(value)}" data-date={quoteattr(day["date"])} data-hour="{hour}" '
                f'data-peak="{peak}" data-crews="{day["crews"]}" data-ratio="{value:.4f}">'
                f"<title>{escape(day['date'])} {hour:02d}:00: {peak} of {day['crews']} crews</title></rect>")
    legend_y = TOP + len(days) * CELL_H + 14
    out.append(f'<text x="4" y="{legend_y + 10}">booked / crews: 0</text>')
    for step in range(11):
        out.append(f'<rect x="{LEFT + 16 + step * CELL_W}" y="{legend_y}" width="{CELL_W - 1}" height="12" '
                   f'fill="{colour(step / 10)}"/>')
    out.append(f'<text x="{LEFT + 20 + 11 * CELL_W}" y="{legend_y + 10}">1 (red: over)</text>')
    out.append("</svg>")
    return "\n".join(out)

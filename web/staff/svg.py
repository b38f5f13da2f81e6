"""Charts and the hall map of the dashboard, drawn on the server as inline SVG.

Why on the server: the site's Content-Security-Policy allows no external scripts, tiles or inline
styles, and the dashboard must print and work without JavaScript. So every chart is plain SVG
markup using presentation attributes (fill=, stroke=) and CSS classes, never `style=`; every text
is escaped; each chart has a <title> and <desc> for screen readers, and the pages also show the
figures as tables.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

TIER_FILLS = {"RED": "#c62828", "GREEN": "#2e7d32", "BLUE": "#1565c0", "YELLOW": "#f9a825", "NONE": "#9e9e9e"}
TIER_NAMES = {
    "RED": "红色·重点",
    "GREEN": "绿色·人口",
    "BLUE": "蓝色·合作",
    "YELLOW": "黄色·潜力",
    "NONE": "未分级",
}
ACCENT = "#1f5f8b"
MUTED = "#6b7280"
GRID = "#d1d5db"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(width: float, height: float, title: str, desc: str, css: str) -> list[str]:
    ident = "c" + hashlib.sha1(f"{title}|{desc}".encode()).hexdigest()[:8]
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
    ]


def _text(
    x: float, y: float, text: Any, css: str = "", anchor: str = "start", size: int = 12, fill: str = "#1f2937"
) -> str:
    css_attr = f' class="{css}"' if css else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{css_attr}>'
        f"{escape(str(text))}</text>"
    )


def vertical_bars(items: Sequence[tuple[str, float]], title: str, unit: str = "") -> Markup:
    """A column chart, e.g. agreements signed per year."""
    width, height, left, bottom, top = 520, 220, 36, 28, 16
    peak = max((v for _, v in items), default=0) or 1
    step = (width - left - 10) / max(len(items), 1)
    bar = min(48.0, step * 0.7)
    desc = "; ".join(f"{k}: {_num(v)}{unit}" for k, v in items) or "暂无数据"
    parts = _open(width, height, title, desc, "chart-columns")
    plot = height - bottom - top
    for tick in range(0, 5):
        value = peak * tick / 4
        y = top + plot - plot * tick / 4
        parts.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{width - 6}" y2="{_num(y)}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, _num(round(value, 1)), anchor="end", size=10, fill=MUTED))
    for index, (name, value) in enumerate(items):
        x = left + index * step + (step - bar) / 2
        h = plot * value / peak
        y = top + plot - h
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar)}" height="{_num(max(h, 0.5))}" fill="{ACCENT}" class="bar"><title>{escape(name)}: {escape(_num(value))}{escape(unit)}</title></rect>'
        )
        parts.append(_text(x + bar / 2, y - 4, _num(value), anchor="middle", size=11))
        parts.append(_text(x + bar / 2, height - 10, name, anchor="middle", size=11))
    if not items:
        parts.append(_text(width / 2, height / 2, "暂无数据", anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(
    items: Sequence[tuple[str, float, str]], title: str, unit: str = "", label_width: int = 110
) -> Markup:
    """A bar per row (label, value, note), e.g. the county ranking (比学赶超)."""
    row = 24
    width = 560
    height = max(row * len(items) + 16, 40)
    peak = max((abs(v) for _, v, _ in items), default=0) or 1
    desc = "; ".join(f"{k}: {_num(v)}{unit}" for k, v, _ in items) or "暂无数据"
    parts = _open(width, height, title, desc, "chart-bars")
    span = width - label_width - 80
    for index, (name, value, note) in enumerate(items):
        y = 8 + index * row
        w = span * max(value, 0) / peak
        parts.append(_text(label_width - 8, y + 15, name, anchor="end"))
        parts.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{_num(max(w, 0.5))}" height="{row - 8}" fill="{ACCENT}" class="bar"><title>{escape(name)}: {escape(_num(value))}{escape(unit)} {escape(note)}</title></rect>'
        )
        parts.append(_text(label_width + w + 6, y + 15, f"{_num(value)}{unit}", size=11))
    if not items:
        parts.append(_text(width / 2, 24, "暂无数据", anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_tiers(rows: Sequence[tuple[str, dict[str, int], int]], title: str) -> Markup:
    """Partner regions per province, each bar split by tier (红/绿/蓝/黄 and 未分级)."""
    row = 24
    label_width = 110
    width = 560
    height = max(row * len(rows) + 44, 60)
    peak = max((total for _, _, total in rows), default=0) or 1
    span = width - label_width - 40
    desc = (
        "; ".join(
            f"{name}: " + ", ".join(f"{TIER_NAMES[t]} {n}" for t, n in counts.items() if n)
            for name, counts, _ in rows
        )
        or "暂无数据"
    )
    parts = _open(width, height, title, desc, "chart-tiers")
    for index, (name, counts, total) in enumerate(rows):
        y = 8 + index * row
        parts.append(_text(label_width - 8, y + 15, name, anchor="end"))
        x = float(label_width)
        for tier in TIER_FILLS:
            count = counts.get(tier, 0)
            if not count:
                continue
            w = span * count / peak
            parts.append(
                f'<rect x="{_num(x)}" y="{y + 3}" width="{_num(w)}" height="{row - 8}" fill="{TIER_FILLS[tier]}" class="tier-seg tier-seg-{tier.lower()}"><title>{escape(name)} {escape(TIER_NAMES[tier])}: {count}</title></rect>'
            )
            x += w
        parts.append(_text(x + 6, y + 15, total, size=11))
    legend_y = height - 14
    x = 8.0
    for tier, fill in TIER_FILLS.items():
        parts.append(f'<rect x="{_num(x)}" y="{legend_y - 10}" width="12" height="12" fill="{fill}"/>')
        parts.append(_text(x + 16, legend_y, TIER_NAMES[tier], size=11))
        x += 100
    parts.append("</svg>")
    return Markup("".join(parts))


def share_bar(parts_in: Sequence[tuple[str, int, str]], title: str) -> Markup:
    """One 100% bar (e.g. 3-day rule: on time / late / unknown) with a legend."""
    width, height = 560, 70
    total = sum(n for _, n, _ in parts_in) or 1
    desc = "; ".join(f"{name} {n}" for name, n, _ in parts_in)
    parts = _open(width, height, title, desc, "chart-share")
    x = 0.0
    for name, count, fill in parts_in:
        w = (width - 2) * count / total
        if w > 0:
            parts.append(
                f'<rect x="{_num(x + 1)}" y="4" width="{_num(w)}" height="28" fill="{fill}"><title>{escape(name)}: {count}</title></rect>'
            )
            if w > 40:
                parts.append(
                    _text(
                        x + 1 + w / 2, 23, f"{round(100 * count / total)}%", anchor="middle", fill="#ffffff"
                    )
                )
        x += w
    lx = 4.0
    for name, count, fill in parts_in:
        parts.append(f'<rect x="{_num(lx)}" y="46" width="12" height="12" fill="{fill}"/>')
        parts.append(_text(lx + 16, 57, f"{name} {count}", size=11))
        lx += 150
    parts.append("</svg>")
    return Markup("".join(parts))


def hall_map(halls: Sequence[dict[str, Any]], title: str) -> Markup:
    """The halls on an equirectangular projection fitted to their extent (no tiles, no scripts):
    a graticule, one dot per hall (filled when it has a cross-region window) and county labels at
    the middle of each county's halls."""
    width, height, pad = 560, 460, 36
    points = [h for h in halls if h.get("lat") is not None and h.get("lon") is not None]
    desc = f"{len(points)} 个服务大厅的位置; 实心圆点为设有跨区域通办窗口的大厅"
    parts = _open(width, height, title, desc, "hall-map")
    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f3f6f9" stroke="{GRID}"/>')
    if not points:
        parts.append(_text(width / 2, height / 2, "暂无坐标", anchor="middle", fill=MUTED))
        parts.append("</svg>")
        return Markup("".join(parts))
    lats = [float(h["lat"]) for h in points]
    lons = [float(h["lon"]) for h in points]
    min_lat, max_lat = min(lats) - 0.08, max(lats) + 0.08
    min_lon, max_lon = min(lons) - 0.08, max(lons) + 0.08
    kx = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x = (max_lon - min_lon) * kx or 0.1
    span_y = (max_lat - min_lat) or 0.1
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def project(lat: float, lon: float) -> tuple[float, float]:
        return off_x + (lon - min_lon) * kx * scale, off_y + (max_lat - lat) * scale

    extent = max(max_lon - min_lon, max_lat - min_lat)
    step = next((s for s in (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0) if extent / s <= 6), 10.0)
    lat_line = math.ceil(min_lat / step) * step
    while lat_line <= max_lat:
        _, y = project(lat_line, min_lon)
        parts.append(
            f'<line x1="0" y1="{_num(y)}" x2="{width}" y2="{_num(y)}" stroke="{GRID}" stroke-width="0.6"/>'
        )
        parts.append(
            _text(
                width - 4,
                y - 2,
                f"{lat_line:.2f}".rstrip("0").rstrip(".") + "°N",
                anchor="end",
                size=9,
                fill=MUTED,
            )
        )
        lat_line += step
    lon_line = math.ceil(min_lon / step) * step
    while lon_line <= max_lon:
        x, _ = project(min_lat, lon_line)
        parts.append(
            f'<line x1="{_num(x)}" y1="0" x2="{_num(x)}" y2="{height}" stroke="{GRID}" stroke-width="0.6"/>'
        )
        parts.append(
            _text(x + 2, height - 4, f"{lon_line:.2f}".rstrip("0").rstrip(".") + "°E", size=9, fill=MUTED)
        )
        lon_line += step

    counties: dict[str, list[tuple[float, float]]] = {}
    for hall in points:
        counties.setdefault(str(hall.get("county", "")), []).append(
            project(float(hall["lat"]), float(hall["lon"]))
        )
    for name, coords in counties.items():
        cx = sum(c[0] for c in coords) / len(coords)
        cy = sum(c[1] for c in coords) / len(coords)
        parts.append(_text(cx, cy - 12, name, css="map-county", anchor="middle", size=12, fill="#374151"))
    for hall in points:
        x, y = project(float(hall["lat"]), float(hall["lon"]))
        window = bool(hall.get("window"))
        fill = ACCENT if window else "#ffffff"
        radius = 7 if hall.get("level") == "CITY" else 5
        note = "; 设有跨区域通办窗口" if window else ""
        approx = "; 坐标为近似位置" if hall.get("approximate") else ""
        href = f"/halls/{int(hall['id'])}" if hall.get("id") is not None else None
        dot = (
            f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{radius}" fill="{fill}" stroke="{ACCENT}" stroke-width="2" class="hall-dot">'
            f"<title>{escape(hall.get('name', ''))}{escape(note)}{escape(approx)}</title></circle>"
        )
        parts.append(f'<a href="{href}">{dot}</a>' if href else dot)
    parts.append(f'<rect x="6" y="6" width="150" height="44" fill="#ffffff" stroke="{GRID}"/>')
    parts.append(f'<circle cx="18" cy="20" r="5" fill="{ACCENT}" stroke="{ACCENT}" stroke-width="2"/>')
    parts.append(_text(28, 24, "设有跨区域通办窗口", size=11))
    parts.append(f'<circle cx="18" cy="38" r="5" fill="#ffffff" stroke="{ACCENT}" stroke-width="2"/>')
    parts.append(_text(28, 42, "其他大厅", size=11))
    parts.append("</svg>")
    return Markup("".join(parts))

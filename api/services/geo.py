"""Coordinates pasted from a map app, and whether they lie in a hall's county.

Accepted: "28.66,121.42", "28.66, 121.42", "28.66°N, 121.42°E", "北纬28.66° 东经121.42°", degrees
with minutes and seconds ("28°39′36″N 121°25′12″E"), and longitude first as 高德/百度 copy it
("121.42,28.66": the order is told apart by the values, since in China latitude < 60 < longitude).

The county check has no boundary polygons to work with: the regions data carries only each county
seat's approximate centre (api/data/county_seats_taizhou.csv, ±5 km). A point counts as inside the
hall's county when it is within SEAT_RADIUS_KM of that county's seat AND no other Taizhou county's
seat is nearer by more than BORDER_SLACK_KM (halls near a border are common; a clearly nearer
neighbouring seat means the point was pasted for the wrong hall or county).
"""

from __future__ import annotations

import csv
import functools
import math
import re
from pathlib import Path

from api import rules

SEATS_FILE = Path(__file__).resolve().parents[1] / "data" / "county_seats_taizhou.csv"
SEAT_RADIUS_KM = 45.0
BORDER_SLACK_KM = 10.0

_NUMBER = r"(\d{1,3}(?:\.\d+)?)"
_PART = re.compile(
    r"(北纬|南纬|东经|西经)?\s*" + _NUMBER + r"\s*(?:°|度)?\s*(?:(\d{1,2}(?:\.\d+)?)\s*(?:′|'|分))?\s*"
    r"(?:(\d{1,2}(?:\.\d+)?)\s*(?:″|\"|''|秒))?\s*([NSEW])?",
    re.IGNORECASE,
)


class CoordinateError(ValueError):
    pass


def parse_coordinates(text: str) -> tuple[float, float]:
    """(latitude, longitude) from what a map app copies; CoordinateError with a Chinese message."""
    cleaned = (text or "").strip().replace("，", ",").replace("；", ",").replace(";", ",")
    if not cleaned:
        raise CoordinateError("请粘贴坐标, 如 28.66,121.42")
    if len(cleaned) > 80:
        raise CoordinateError("坐标过长: 请只粘贴纬度和经度")
    if re.search(r"-\s*\d", cleaned):
        raise CoordinateError("坐标应为北纬、东经(中国境内), 不应有负号")
    parts = []
    for match in _PART.finditer(cleaned):
        if match.group(2) is None:
            continue
        prefix, degrees, minutes, seconds, suffix = match.groups()
        value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
        hemisphere = {"北纬": "N", "南纬": "S", "东经": "E", "西经": "W"}.get(
            prefix or "", (suffix or "").upper()
        )
        parts.append((value, hemisphere))
    if len(parts) != 2:
        raise CoordinateError("无法识别坐标: 应为纬度和经度两个数, 如 28.66,121.42 或 28.66°N, 121.42°E")
    (a, ha), (b, hb) = parts
    if "S" in (ha, hb) or "W" in (ha, hb):
        raise CoordinateError("坐标应为北纬、东经(中国境内)")
    if ha == "E" or hb == "N" or (not ha and not hb and a > b):
        a, b = b, a  # longitude was given first
    latitude, longitude = a, b
    if not (0 < latitude <= 60 and 60 <= longitude <= 140):
        raise CoordinateError(f"坐标 {latitude:g},{longitude:g} 不在中国境内: 请核对纬度和经度")
    return round(latitude, 6), round(longitude, 6)


@functools.cache
def county_seats() -> dict[str, tuple[str, float, float]]:
    with SEATS_FILE.open(encoding="utf-8") as handle:
        return {
            row["code"]: (row["name"], float(row["lat"]), float(row["lon"])) for row in csv.DictReader(handle)
        }


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def outside_county(
    tree: rules.RegionTree, home_city: str, region_code: str, latitude: float, longitude: float
) -> str | None:
    """Why the point cannot be in the county of `region_code` (a message), or None when it can."""
    seats = county_seats()
    county = rules.local_county_of(tree, home_city, region_code) or (
        home_city if region_code == home_city else None
    )
    if county is None or county not in seats:
        return None  # no seat known for the place: nothing to check against
    name, lat, lon = seats[county]
    own = distance_km(latitude, longitude, lat, lon)
    others = sorted(
        (distance_km(latitude, longitude, s_lat, s_lon), s_name)
        for code, (s_name, s_lat, s_lon) in seats.items()
        if code not in (county, home_city)
    )
    nearest = others[0] if others and county != home_city else None
    if own > SEAT_RADIUS_KM:
        near = f", 最靠近{nearest[1]}驻地(约 {nearest[0]:.0f} 公里)" if nearest and nearest[0] < own else ""
        return f"坐标距{name}驻地约 {own:.0f} 公里{near}, 不在{name}范围内: 请核对坐标或所在地"
    if nearest is not None and nearest[0] + BORDER_SLACK_KM < own:
        return f"坐标更靠近{nearest[1]}驻地(约 {nearest[0]:.0f} 公里, 距{name}驻地约 {own:.0f} 公里): 请核对坐标或所在地"
    return None

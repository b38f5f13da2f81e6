"""Atom feeds of the changes feed, for people with feed readers.

`/feeds/changes.atom`: the newest public changes (agreements, matters, halls, regions, pairing
relations, the grading thresholds). `/feeds/changes.atom?region=511300`: what changed in that
region's coverage: the agreements that cover it (signed by it or a region above it) or were signed
inside it, the region's own record, the matters those agreements cover and the halls they reach.
Anonymous (public records only); the same order and `seq` as the GraphQL `changes` query.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from starlette.requests import Request
from starlette.responses import Response

from api.services.catalog import Catalog
from api.services.changes import ChangeRow, recent_changes

FEED_SIZE = 50
_CODE = re.compile(r"^\d{6}(\d{3})?$")

KIND = {
    "agreement": "通办协议",
    "hall": "服务大厅",
    "matter": "事项",
    "region": "地区",
    "relation": "结对关系",
    "setting": "分级阈值",
}
ACTION = {"create": "新增", "update": "更新", "delete": "删除"}


def _title(catalog: Catalog, row: ChangeRow) -> str:
    name = row.key
    if row.entity == "agreement":
        facts = catalog.agreement(int(row.key)) if row.key.isdigit() else None
        name = facts.title if facts is not None else f"编号 {row.key}"
    elif row.entity == "matter":
        found = catalog.matters.get(row.key)
        name = found.name if found is not None else row.key
    elif row.entity == "hall":
        hall = catalog.hall_row(int(row.key)) if row.key.isdigit() else None
        name = hall.name if hall is not None else f"编号 {row.key}"
    elif row.entity == "region" and row.key in catalog.tree:
        name = catalog.tree.full_name(row.key)
    return f"{KIND.get(row.entity, row.entity)}{ACTION.get(row.action, row.action)}: {name}"


def _link(catalog: Catalog, row: ChangeRow) -> str | None:
    if row.entity == "matter":
        return f"/matters/{row.key}"
    if row.entity == "hall" and row.key.isdigit():
        return f"/halls/{row.key}"
    if row.entity == "region":
        return f"/regions/{row.key}"
    if row.entity == "agreement" and row.key.isdigit():
        facts = catalog.agreement(int(row.key))
        return f"/regions/{facts.partner_code}" if facts is not None else None
    return None


def coverage_filter(catalog: Catalog, code: str):  # noqa: ANN201 - a predicate on ChangeRow
    """Which changes concern `code`'s coverage (see the module docstring)."""
    tree = catalog.tree
    above = {code, *tree.ancestors(code)}
    agreements = [*catalog.agreements_for_home(code), *catalog.agreements_inside(code)]
    ids = {str(a.id) for a in agreements}
    every_matter = any(a.matter_codes is None for a in agreements)
    matters = set().union(*(a.matter_codes or () for a in agreements)) if agreements else set()

    def keep(row: ChangeRow) -> bool:
        if row.entity == "agreement":
            if row.key in ids:
                return True
            facts = catalog.agreement(int(row.key)) if row.key.isdigit() else None
            return facts is not None and (
                facts.partner_code in above or tree.contains(code, facts.partner_code)
            )
        if row.entity == "region":
            return row.key in above
        if row.entity == "matter":
            return every_matter or row.key in matters
        if row.entity == "hall":
            return bool(agreements)
        return False

    return keep


async def changes_atom(request: Request) -> Response:
    state = request.app.state.tongban
    catalog = await state.catalog.get()
    region = request.query_params.get("region")
    keep = None
    if region is not None:
        if not _CODE.match(region) or region not in catalog.tree:
            return Response(
                f"未知地区代码 {region[:20]}", status_code=404, media_type="text/plain; charset=utf-8"
            )
        keep = coverage_filter(catalog, region)
    async with state.db.read() as session:
        rows = await recent_changes(session, None, catalog.tree, catalog.home_city, FEED_SIZE, keep=keep)
    base = str(request.base_url).rstrip("/")
    self_url = f"{base}/feeds/changes.atom" + (f"?region={region}" if region else "")
    title = "通办目录变更" + (f": {catalog.tree.full_name(region)}的通办覆盖" if region else "")
    updated = rows[0].at.isoformat() if rows else "2026-01-01T00:00:00+00:00"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">',
        f"<id>{escape(self_url)}</id>",
        f"<title>{escape(title)}</title>",
        f"<updated>{updated}</updated>",
        f'<link rel="self" href={quoteattr(self_url)}/>',
        f'<link rel="alternate" href={quoteattr(base + "/")}/>',
        f"<author><name>{escape(catalog.tree.full_name(catalog.home_city))}跨区域通办服务目录</name></author>",
    ]
    for row in rows:
        link = _link(catalog, row)
        summary = f"{KIND.get(row.entity, row.entity)} {row.key} {ACTION.get(row.action, row.action)} (变更序号 {row.seq})"
        parts += [
            "<entry>",
            f"<id>urn:tongban:change:{row.seq}</id>",
            f"<title>{escape(_title(catalog, row))}</title>",
            f"<updated>{row.at.isoformat()}</updated>",
            *([f"<link href={quoteattr(base + link)}/>"] if link else []),
            f"<summary>{escape(summary)}</summary>",
            "</entry>",
        ]
    parts.append("</feed>")
    return Response("\n".join(parts), media_type="application/atom+xml; charset=utf-8")

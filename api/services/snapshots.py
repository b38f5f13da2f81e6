"""Records as plain dicts in the import format (CONTRACT.md §3 plus our extensions).

One shape serves three needs: `tongban export` writes it, the change log stores it as the
before/after of a change, and an upsert compares it to decide whether anything changed.
"""

from __future__ import annotations

from typing import Any

from api.enums import value_of
from api.models import Agreement, Contact, Guide, Hall, Matter, Region, RegionRelation


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def guide_snapshot(guide: Guide | None) -> dict[str, Any] | None:
    if guide is None:
        return None
    return {
        "conditions": guide.conditions,
        "materials": [dict(m) for m in guide.materials or []],
        "steps": list(guide.steps or []),
        "timeLimitDays": guide.time_limit_days,
        "fee": guide.fee,
        "legalBasis": guide.legal_basis,
        "walkthrough": guide.walkthrough,
        "publisher": guide.publisher,
        "sourceUrl": guide.source_url,
        "sample": guide.is_sample,
        "publishedOn": _date(guide.source_published_on),
    }


def published_guide(matter: Matter) -> Guide | None:
    """The latest published version: the one every county uses."""
    published = [g for g in matter.guides if value_of(g.status) == "PUBLISHED"]
    return max(published, key=lambda g: g.version) if published else None


def matter_snapshot(matter: Matter, guide: Guide | None) -> dict[str, Any]:
    return {
        "code": matter.code,
        "name": matter.name,
        "department": matter.department,
        "scope": value_of(matter.scope),
        "modes": list(matter.modes or []),
        "modesSample": matter.modes_sample,
        "keywords": list(matter.keywords or []),
        "aliases": list(matter.aliases or []),
        "nationalList": matter.national_list,
        "deadline": matter.deadline,
        "published": matter.published,
        "source": matter.source,
        "sourceUrl": matter.source_url,
        "sample": matter.is_sample,
        "verifiedOn": _date(matter.verified_on),
        "guide": guide_snapshot(guide),
    }


def hall_snapshot(hall: Hall, matter_codes: list[str]) -> dict[str, Any]:
    return {
        "key": hall.key,
        "name": hall.name,
        "regionCode": hall.region_code,
        "level": value_of(hall.level),
        "address": hall.address,
        "phone": hall.phone,
        "openingHours": hall.opening_hours,
        "latitude": hall.latitude,
        "longitude": hall.longitude,
        "coordinatesApproximate": hall.coordinates_approximate,
        "hasCrossRegionWindow": hall.has_cross_region_window,
        "windowServices": list(hall.window_services or []),
        "matterCodes": sorted(matter_codes),
        "source": hall.source,
        "sourceUrl": hall.source_url,
        "sample": hall.is_sample,
        "verifiedOn": _date(hall.verified_on),
    }


def agreement_snapshot(agreement: Agreement, matter_codes: list[str] | None) -> dict[str, Any]:
    return {
        "key": agreement.key,
        "title": agreement.title,
        "partnerCode": agreement.partner_code,
        "localCode": agreement.local_code,
        "signedOn": _date(agreement.signed_on),
        "effectiveFrom": _date(agreement.effective_from),
        "expiresOn": _date(agreement.expires_on),
        "status": value_of(agreement.status),
        "citywideShared": agreement.citywide_shared,
        "includesClause": agreement.includes_clause,
        # only when recorded, so the documents and audit entries of other agreements are unchanged
        **({"notSharedReason": agreement.not_shared_reason} if agreement.not_shared_reason else {}),
        "matterCodes": None if matter_codes is None else sorted(matter_codes),
        "documentRef": agreement.document_ref,
        "registeredOn": _date(agreement.registered_on),
        "itemsCount": agreement.items_count,
        "note": agreement.note,
        "source": agreement.source,
        "sourceUrl": agreement.source_url,
        "sample": agreement.is_sample,
        "verifiedOn": _date(agreement.verified_on),
    }


def partner_snapshot(region: Region) -> dict[str, Any]:
    return {
        "regionCode": region.code,
        "populationIndex": region.population_index,
        "cooperationIndex": region.cooperation_index,
        "sample": region.indices_sample,
    }


def relation_snapshot(relation: RegionRelation) -> dict[str, Any]:
    return {
        "key": relation.key,
        "kind": value_of(relation.kind),
        "localCode": relation.local_code,
        "partnerCode": relation.partner_code,
        "since": relation.since,
        "note": relation.note,
        "source": relation.source,
        "sourceUrl": relation.source_url,
        "verifiedOn": _date(relation.verified_on),
    }


def contact_snapshot(contact: Contact, group_name: str | None) -> dict[str, Any]:
    return {
        "key": contact.key,
        "name": contact.name,
        "regionCode": contact.region_code,
        "organisation": contact.organisation,
        "role": contact.role,
        "phone": contact.phone,
        "email": contact.email,
        "liaisonGroup": group_name,
        "sample": contact.is_sample,
        "verifiedOn": _date(contact.verified_on),
    }

"""Seed the bureau tree from the project's copy of the Jilin divisions (``tenants/data/jilin-divisions.csv``)."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants.models import Bureau, BureauLevel
from tenants.tree import add_bureau

JILIN_CSV = Path(__file__).with_name("data") / "jilin-divisions.csv"
# 长白山保护开发区 has no GB/T 2260 code; it is a city-level zone directly under the province.
_PROVINCE_ADCODE = "220000"


def read_divisions(path: Path = JILIN_CSV) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def seed_bureaus(session: Session, path: Path = JILIN_CSV) -> int:
    """Create every bureau of the file that does not exist yet (matched by adcode, else by name); flushes."""
    rows = read_divisions(path)
    existing = {b.adcode or b.division_name: b for b in session.scalars(select(Bureau))}
    created = 0
    by_level = {lvl: [r for r in rows if r["level"] == lvl] for lvl in ("province", "city", "county")}
    for level in ("province", "city", "county"):
        for row in by_level[level]:
            key = row["adcode"] or row["name"]
            if key in existing:
                continue
            parent_code = row["parent_adcode"] or (_PROVINCE_ADCODE if level != "province" else "")
            parent = existing.get(parent_code) if parent_code else None
            bureau = add_bureau(
                session,
                division_name=row["name"],
                level=BureauLevel(level),
                parent=parent,
                adcode=row["adcode"] or None,
            )
            existing[key] = bureau
            created += 1
    return created

"""Seeding the bureau tree from the Jilin divisions file: complete, and safe to run again."""

import csv

from sqlalchemy import func, select

from tenants.models import Bureau, BureauLevel, Unit
from tenants.seed import JILIN_CSV, read_divisions, seed_bureaus
from tenants.tree import get_bureau, rename_bureau


def counts(session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Bureau)),
        session.scalar(select(func.count()).select_from(Unit)),
    )


def test_the_divisions_file():
    rows = read_divisions()
    assert len(rows) == 71
    assert [r["level"] for r in rows].count("county") == 60
    codes = [r["adcode"] for r in rows if r["adcode"]]
    assert len(codes) == len(set(codes)) == 70
    by_code = {r["adcode"]: r for r in rows}
    for row in rows:
        if row["level"] == "county":
            assert by_code[row["parent_adcode"]]["level"] == "city", row
        elif row["level"] == "city":
            assert row["parent_adcode"] == "220000", row
    assert [r for r in rows if not r["adcode"]] == [
        {"adcode": "", "name": "长白山保护开发区", "level": "city", "parent_adcode": "220000"}
    ]


def test_seeding_again_creates_nothing(dbs):
    before = counts(dbs)
    assert before == (71, 71 * 6 + 1)  # six units each, and the province's general office (§四.3)
    assert seed_bureaus(dbs) == 0
    dbs.commit()
    assert counts(dbs) == before


def test_renamed_bureaus_are_not_seeded_again(dbs):
    rename_bureau(dbs, get_bureau(dbs, "220102"), "南关区社保局")
    rename_bureau(dbs, get_bureau(dbs, "长白山保护开发区"), "长白山社保局")
    assert seed_bureaus(dbs) == 0
    assert counts(dbs) == (71, 71 * 6 + 1)


def test_seed_adds_only_the_missing_rows(dbs, tmp_path):
    extra = tmp_path / "divisions.csv"
    with JILIN_CSV.open(encoding="utf-8") as src, extra.open("w", encoding="utf-8", newline="") as dst:
        dst.write(src.read())
        writer = csv.writer(dst)
        writer.writerow(["220199", "长春新区", "county", "220100"])
        writer.writerow(["", "某试验区", "city", ""])
    assert seed_bureaus(dbs, extra) == 2
    new_county, new_zone = get_bureau(dbs, "220199"), get_bureau(dbs, "某试验区")
    province = get_bureau(dbs, "220000")
    assert new_county.parent_id == get_bureau(dbs, "220100").id
    assert new_county.level == BureauLevel.county
    assert new_zone.parent_id == province.id  # a city-level row without a parent goes under the province
    assert new_zone.path == f"{province.path}{new_zone.id}/"
    assert counts(dbs) == (73, 73 * 6 + 1)
    assert seed_bureaus(dbs, extra) == 0

"""The bureau tree: the seeded Jilin bureaus, subtrees, and adding, renaming and moving bureaus."""

import pytest
from sqlalchemy import func, select

from tenants.models import DEFAULT_UNITS, PROVINCE_UNITS, Bureau, BureauLevel, Unit, UnitKind
from tenants.scoping import subtree_ids
from tenants.tree import (
    TreeError,
    add_bureau,
    get_bureau,
    is_ancestor,
    list_bureaus,
    move_bureau,
    rename_bureau,
)

CHANGCHUN_COUNTIES = {
    "220102", "220103", "220104", "220105", "220106", "220112", "220113", "220122", "220182", "220183", "220184"
}  # fmt: skip


def bureau(session, ref) -> Bureau:
    found = get_bureau(session, ref)
    assert found is not None, ref
    return found


def paths(session) -> dict[int, str]:
    return {row.id: row.path for row in session.execute(select(Bureau.id, Bureau.path))}


def test_seed_has_71_bureaus_in_three_levels(dbs):
    bureaus = list_bureaus(dbs)
    assert len(bureaus) == 71
    by_level = {lvl: [b for b in bureaus if b.level == lvl] for lvl in BureauLevel}
    assert (len(by_level["province"]), len(by_level["city"]), len(by_level["county"])) == (1, 10, 60)
    province = by_level["province"][0]
    assert (province.adcode, province.name, province.parent_id) == ("220000", "吉林省社会保险局", None)
    assert province.path == f"{province.id}/"
    assert all(city.parent_id == province.id for city in by_level["city"])
    city_ids = {city.id for city in by_level["city"]}
    assert all(county.parent_id in city_ids for county in by_level["county"])
    assert bureaus[0] == province  # ordered by path: the root first


def test_changbaishan_is_city_level_under_the_province(dbs):
    zone = bureau(dbs, "长白山保护开发区")
    assert zone.level == BureauLevel.city
    assert zone.adcode is None
    assert zone.parent_id == bureau(dbs, "220000").id
    assert zone.name == "长白山保护开发区社会保险局"
    assert bureau(dbs, zone.id) == zone


def test_every_bureau_has_its_display_name_and_path(dbs):
    by_id = {b.id: b for b in list_bureaus(dbs)}
    for b in by_id.values():
        assert b.name == b.division_name + "社会保险局"
        parent_path = by_id[b.parent_id].path if b.parent_id else ""
        assert b.path == f"{parent_path}{b.id}/"
        assert b.ancestor_ids == ([*by_id[b.parent_id].ancestor_ids, b.parent_id] if b.parent_id else [])


def test_every_bureau_has_the_petition_office_and_five_divisions(dbs):
    units = dbs.execute(select(Unit.tenant_id, Unit.code, Unit.name, Unit.kind)).all()
    assert len(units) == 71 * 6 + 1  # and the province's general office (§四.3)
    expected = sorted((code, name, kind) for code, name, kind in DEFAULT_UNITS)
    province = bureau(dbs, "220000").id
    per_bureau: dict[int, list] = {}
    for tenant_id, code, name, kind in units:
        per_bureau.setdefault(tenant_id, []).append((code, name, kind))
    assert len(per_bureau) == 71
    for tenant_id, tenant_units in per_bureau.items():
        extra = list(PROVINCE_UNITS) if tenant_id == province else []
        assert sorted(tenant_units) == sorted(expected + extra)
    kinds = [kind for _code, _name, kind in DEFAULT_UNITS]
    assert kinds.count(UnitKind.petition_office) == 1
    assert kinds.count(UnitKind.division) == 5


def test_get_bureau_by_id_adcode_and_name(dbs):
    changchun = bureau(dbs, "220100")
    assert changchun.division_name == "长春市"
    assert bureau(dbs, "长春市") == changchun
    assert bureau(dbs, "长春市社会保险局") == changchun
    assert bureau(dbs, str(changchun.id)) == changchun
    assert bureau(dbs, changchun.id) == changchun
    assert get_bureau(dbs, "229999") is None
    assert get_bureau(dbs, "不存在市") is None


def test_subtree_of_a_city(dbs):
    changchun, jilin = bureau(dbs, "220100"), bureau(dbs, "220200")
    ids = set(subtree_ids(dbs, changchun.id))
    assert ids == {changchun.id} | {bureau(dbs, code).id for code in CHANGCHUN_COUNTIES}
    assert jilin.id not in ids
    assert not ids & set(subtree_ids(dbs, jilin.id))
    assert bureau(dbs, "220202").id in subtree_ids(dbs, jilin.id)


def test_subtree_of_the_province_and_of_a_county(dbs):
    assert len(subtree_ids(dbs, bureau(dbs, "220000").id)) == 71
    nanguan = bureau(dbs, "220102")
    assert subtree_ids(dbs, nanguan.id) == [nanguan.id]


def test_is_ancestor(dbs):
    province, changchun, nanguan = bureau(dbs, "220000"), bureau(dbs, "220100"), bureau(dbs, "220102")
    assert is_ancestor(province, nanguan)
    assert is_ancestor(changchun, nanguan)
    assert not is_ancestor(nanguan, changchun)
    assert not is_ancestor(changchun, changchun)
    assert not is_ancestor(bureau(dbs, "220200"), nanguan)


def test_add_a_county_with_its_units(dbs):
    changchun = bureau(dbs, "220100")
    new = add_bureau(dbs, division_name=" 长春新区 ", level=BureauLevel.county, parent=changchun)
    dbs.commit()
    assert (new.division_name, new.name, new.adcode) == ("长春新区", "长春新区社会保险局", None)
    assert new.parent_id == changchun.id
    assert new.path == f"{changchun.path}{new.id}/"
    assert new.id in subtree_ids(dbs, changchun.id)
    codes = dbs.scalars(select(Unit.code).where(Unit.tenant_id == new.id)).all()
    assert sorted(codes) == sorted(code for code, _n, _k in DEFAULT_UNITS)


def test_add_with_adcode_and_display_name(dbs):
    province = bureau(dbs, "220000")
    new = add_bureau(
        dbs, division_name="某开发区", level=BureauLevel.city, parent=province, adcode="220199", name="某开发区社保局"
    )
    assert (new.adcode, new.name) == ("220199", "某开发区社保局")
    assert bureau(dbs, "220199") == new
    # A county may be managed directly by the province.
    direct = add_bureau(dbs, division_name="直管县", level=BureauLevel.county, parent=province, with_units=False)
    assert direct.parent_id == province.id
    assert dbs.scalar(select(func.count()).select_from(Unit).where(Unit.tenant_id == direct.id)) == 0


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"level": BureauLevel.province, "parent": None}, "already a province"),
        ({"level": BureauLevel.province, "parent": "220000"}, "province has no parent"),
        ({"level": BureauLevel.county, "parent": "220102"}, "county bureau cannot be placed under a county"),
        ({"level": BureauLevel.city, "parent": "220100"}, "city bureau cannot be placed under a city"),
        ({"level": BureauLevel.city, "parent": None}, "needs a parent"),
        ({"adcode": "22010"}, "six digits"),
        ({"adcode": "22a100"}, "six digits"),
        ({"adcode": "2201000"}, "six digits"),
        ({"division_name": "  "}, "needs a division name"),
        ({"adcode": "220102"}, "adcode 220102 already exists"),
    ],
)
def test_add_refuses(dbs, kw, reason):
    args = {"division_name": "新区", "level": BureauLevel.county, "parent": "220100"} | kw
    if args["parent"] is not None:
        args["parent"] = bureau(dbs, args["parent"])
    with pytest.raises(TreeError, match=reason):
        add_bureau(dbs, **args)
    dbs.rollback()
    assert dbs.scalar(select(func.count()).select_from(Bureau)) == 71


def test_rename(dbs):
    nanguan = bureau(dbs, "220102")
    rename_bureau(dbs, nanguan, " 长春市南关区社会保险局 ")
    dbs.commit()
    dbs.expire_all()
    assert bureau(dbs, "220102").name == "长春市南关区社会保险局"
    assert bureau(dbs, "220102").division_name == "南关区"
    with pytest.raises(TreeError, match="empty"):
        rename_bureau(dbs, nanguan, "  ")


def test_move_a_county_to_another_city(dbs):
    changchun, jilin, nanguan = bureau(dbs, "220100"), bureau(dbs, "220200"), bureau(dbs, "220102")
    before = paths(dbs)
    move_bureau(dbs, nanguan, jilin)
    dbs.commit()
    moved = bureau(dbs, "220102")
    assert moved.parent_id == jilin.id
    assert moved.path == f"{jilin.path}{nanguan.id}/"
    after = paths(dbs)
    assert {k: v for k, v in after.items() if k != nanguan.id} == {k: v for k, v in before.items() if k != nanguan.id}
    assert nanguan.id in subtree_ids(dbs, jilin.id)
    assert nanguan.id not in subtree_ids(dbs, changchun.id)
    # Under the province directly, then back.
    province = bureau(dbs, "220000")
    move_bureau(dbs, moved, province)
    assert bureau(dbs, "220102").path == f"{province.path}{nanguan.id}/"
    move_bureau(dbs, bureau(dbs, "220102"), changchun)
    assert paths(dbs) == before


def test_move_rewrites_the_paths_of_the_whole_subtree(dbs):
    # Counties have no children today; build a deeper branch by hand to check that every descendant follows.
    nanguan, jilin = bureau(dbs, "220102"), bureau(dbs, "220200")
    child = Bureau(division_name="某街道", name="某街道", level=BureauLevel.county, parent_id=nanguan.id, path="")
    dbs.add(child)
    dbs.flush()
    child.path = f"{nanguan.path}{child.id}/"
    grandchild = Bureau(division_name="某社区", name="某社区", level=BureauLevel.county, parent_id=child.id, path="")
    dbs.add(grandchild)
    dbs.flush()
    grandchild.path = f"{child.path}{grandchild.id}/"
    dbs.flush()

    move_bureau(dbs, nanguan, jilin)
    expected = f"{jilin.path}{nanguan.id}/"
    assert bureau(dbs, nanguan.id).path == expected
    assert bureau(dbs, child.id).path == f"{expected}{child.id}/"
    assert bureau(dbs, grandchild.id).path == f"{expected}{child.id}/{grandchild.id}/"
    assert set(subtree_ids(dbs, jilin.id)) >= {nanguan.id, child.id, grandchild.id}
    assert not set(subtree_ids(dbs, bureau(dbs, "220100").id)) & {nanguan.id, child.id, grandchild.id}


def test_move_refusals(dbs):
    province, changchun, nanguan = bureau(dbs, "220000"), bureau(dbs, "220100"), bureau(dbs, "220102")
    before = paths(dbs)
    with pytest.raises(TreeError, match="province cannot be moved"):
        move_bureau(dbs, province, changchun)
    with pytest.raises(TreeError, match="under itself or under one of its own"):
        move_bureau(dbs, changchun, nanguan)
    with pytest.raises(TreeError, match="under itself"):
        move_bureau(dbs, nanguan, nanguan)
    with pytest.raises(TreeError, match="county bureau cannot be placed under a county"):
        move_bureau(dbs, nanguan, bureau(dbs, "220202"))
    with pytest.raises(TreeError, match="city bureau cannot be placed under a city"):
        move_bureau(dbs, changchun, bureau(dbs, "220200"))
    dbs.rollback()
    assert paths(dbs) == before

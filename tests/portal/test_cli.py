"""The command line through Flask's CLI runner: bureaus, units, users and the demo seed."""

import pytest
from sqlalchemy import text

from portal.demo import DEMO_PASSWORD
from portal.roles import Role
from tests.helpers import PASSWORD, login


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        # The commands are plain click commands added to app.cli: the `portal` / `flask` entry point (FlaskGroup)
        # pushes the app context for them, the test runner does not. Each call gets a fresh context, like a process.
        with app.app_context():
            return runner.invoke(args=list(args), input=input)

    return invoke


@pytest.fixture
def sql(owner_engine):
    """Read the database as its owner, outside the app's session."""

    def query(statement: str, **params):
        with owner_engine.connect() as conn:
            return conn.execute(text(statement), params).all()

    return query


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def fails(result, reason: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert reason in result.output


def bureau_id(sql, adcode: str) -> int:
    return sql("SELECT id FROM bureaus WHERE adcode = :a", a=adcode)[0].id


def test_bureaus_list(run, sql):
    lines = ok(run("bureaus", "list")).splitlines()
    assert len(lines) == 71
    ids = {r.division_name: r.id for r in sql("SELECT id, division_name FROM bureaus")}
    # One indent step per level below the province.
    assert lines[0] == f"{ids['吉林省']:>4}  220000  province 吉林省社会保险局"
    assert f"  {ids['长春市']:>4}  220100  city     长春市社会保险局" in lines
    assert f"    {ids['南关区']:>4}  220102  county   南关区社会保险局" in lines
    assert f"  {ids['长白山保护开发区']:>4}  ------  city     长白山保护开发区社会保险局" in lines
    # Ordered by path: 南关区 comes after 长春市 and before 吉林市.
    position = {name: next(i for i, line in enumerate(lines) if f" {name}社会保险局" in line) for name in ids}
    assert position["长春市"] < position["南关区"] < position["吉林市"] < position["昌邑区"]


def test_bureaus_add(run, sql):
    out = ok(
        run("bureaus", "add", "--name", "长春新区", "--level", "county", "--parent", "220100", "--adcode", "220199")
    )
    assert "长春新区社会保险局" in out
    (row,) = sql("SELECT id, parent_id, path, level FROM bureaus WHERE adcode = '220199'")
    changchun = sql("SELECT id, path FROM bureaus WHERE adcode = '220100'")[0]
    assert (row.parent_id, row.level) == (changchun.id, "county")
    assert row.path == f"{changchun.path}{row.id}/"
    assert len(sql("SELECT 1 FROM units WHERE tenant_id = :t", t=row.id)) == 6

    ok(run("bureaus", "add", "--name", "某区", "--level", "city", "--parent", "吉林省", "--display-name", "某区社保局"))
    assert sql("SELECT level FROM bureaus WHERE name = '某区社保局'")[0].level == "city"


@pytest.mark.parametrize(
    ("args", "reason", "code"),
    [
        (("--name", "又一省", "--level", "province"), "already a province bureau", 1),
        (("--name", "某镇", "--level", "county", "--parent", "220102"), "cannot be placed under a county", 1),
        (("--name", "某镇", "--level", "county", "--parent", "220100", "--adcode", "2201"), "six digits", 1),
        (("--name", "某镇", "--level", "county", "--parent", "220100", "--adcode", "220102"), "already exists", 1),
        (("--name", "某镇", "--level", "county"), "needs a parent", 1),
        (("--name", "某镇", "--level", "county", "--parent", "229999"), "no bureau '229999'", 2),
        (("--name", "某镇", "--level", "town", "--parent", "220100"), "'town' is not one of", 2),
    ],
)
def test_bureaus_add_refuses(run, sql, args, reason, code):
    fails(run("bureaus", "add", *args), reason, code)
    assert sql("SELECT count(*) AS n FROM bureaus")[0].n == 71


def test_bureaus_rename(run, sql):
    assert "南关区人社局" in ok(run("bureaus", "rename", "220102", "南关区人社局"))
    assert sql("SELECT name FROM bureaus WHERE adcode = '220102'")[0].name == "南关区人社局"
    fails(run("bureaus", "rename", "220102", "  "), "empty")
    fails(run("bureaus", "rename", "不存在", "x"), "no bureau '不存在'", 2)


def test_bureaus_move(run, sql):
    out = ok(run("bureaus", "move", "220102", "吉林市"))
    assert "Moved 南关区社会保险局 under 吉林市社会保险局." in out
    (row,) = sql("SELECT id, parent_id, path FROM bureaus WHERE adcode = '220102'")
    jilin = sql("SELECT id, path FROM bureaus WHERE adcode = '220200'")[0]
    assert row.parent_id == jilin.id
    assert row.path == f"{jilin.path}{row.id}/"

    fails(run("bureaus", "move", "220000", "220100"), "province cannot be moved")
    fails(run("bureaus", "move", "220100", "220103"), "under one of its own bureaus")
    fails(run("bureaus", "move", "220103", "220104"), "cannot be placed under a county")
    assert sql("SELECT parent_id FROM bureaus WHERE adcode = '220100'")[0].parent_id == bureau_id(sql, "220000")


def test_units_list(run):
    lines = ok(run("units", "list", "220100")).splitlines()
    assert [line.split()[0] for line in lines] == [
        "petition_office",
        "pension",
        "work_injury",
        "unemployment",
        "fund_finance",
        "audit",
    ]
    assert lines[0].split()[1:] == ["petition_office", "信访办"]


def test_units_add_and_rename(run, sql):
    assert "Added unit medical" in ok(run("units", "add", "220102", "--code", "medical", "--name", "医疗保险股"))
    nanguan = bureau_id(sql, "220102")
    (unit,) = sql("SELECT tenant_id, name, kind FROM units WHERE code = 'medical'")
    assert (unit.tenant_id, unit.name, unit.kind) == (nanguan, "医疗保险股", "division")
    assert "medical" in ok(run("units", "list", "220102"))
    assert "medical" not in ok(run("units", "list", "220100"))

    ok(run("units", "rename", "220102", "medical", " 医疗保险科 "))
    assert sql("SELECT name FROM units WHERE code = 'medical'")[0].name == "医疗保险科"
    # Only the named bureau's unit changes.
    ok(run("units", "rename", "220102", "pension", "养老保险股"))
    names = sql("SELECT tenant_id, name FROM units WHERE code = 'pension' AND name = '养老保险股'")
    assert [r.tenant_id for r in names] == [nanguan]


def test_units_refusals(run, sql):
    fails(run("units", "add", "220102", "--code", "pension", "--name", "养老"), "already has a unit 'pension'")
    fails(run("units", "add", "220102", "--code", "bad code", "--name", "x"), "The code must be")
    fails(run("units", "add", "220102", "--code", "x", "--name", " "), "the name must not be empty")
    fails(run("units", "add", "220102", "--code", "x", "--name", "x", "--kind", "team"), "'team' is not one of", 2)
    fails(run("units", "rename", "220102", "nothing", "x"), "has no unit 'nothing'")
    fails(run("units", "rename", "220102", "pension", "  "), "The new name is empty")
    fails(run("units", "list", "229999"), "no bureau", 2)
    assert sql("SELECT count(*) AS n FROM units")[0].n == 71 * 6 + 1  # and the province's general office (§四.3)


def test_users_create(run, sql, client):
    out = ok(
        run(
            "users", "create", "--bureau", "220100", "--role", "petition_clerk", "--role", "petition_office_head",
            "--username", "cc_new", "--unit", "petition_office", "--display-name", "新同事", "--password", PASSWORD,
        )
    )  # fmt: skip
    assert "Created cc_new at 长春市社会保险局 with roles petition_clerk, petition_office_head." in out
    (user,) = sql("SELECT tenant_id, roles::text[] AS roles, display_name, password_hash FROM staff_users")
    assert user.tenant_id == bureau_id(sql, "220100")
    assert user.roles == ["petition_clerk", "petition_office_head"]
    assert user.display_name == "新同事"
    assert user.password_hash.startswith("$argon2id$")
    assert "cc_new" in ok(run("users", "list", "--bureau", "220100"))
    assert "cc_new" not in ok(run("users", "list", "--bureau", "220200"))
    assert login(client, "cc_new").status_code == 302


def test_users_create_prompts_for_the_password(run, sql):
    result = run(
        "users", "create", "--bureau", "220102", "--role", "division_staff", "--username", "ng_new",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert "Created ng_new" in ok(result)
    assert PASSWORD not in result.output
    assert sql("SELECT username FROM staff_users")[0].username == "ng_new"


@pytest.mark.parametrize(
    ("args", "reason", "code"),
    [
        (("--username", "bad name"), "Username must be", 1),
        (("--username", "taken_one"), "'taken_one' is taken", 1),
        (("--password", "short-1"), "at least 10 characters", 1),
        (("--password", "lettersonlypassword"), "mix letters", 1),
        (("--role", "province_admin"), "Only staff of the province bureau", 1),
        (("--unit", "medical"), "has no unit 'medical'", 1),
        (("--bureau", "不存在局"), "no bureau '不存在局'", 2),
        (("--role", "king"), "'king' is not one of", 2),
    ],
)
def test_users_create_refuses(run, sql, args, reason, code):
    ok(run("users", "create", "--bureau", "220000", "--role", "bureau_admin", "--username", "taken_one",
           "--password", PASSWORD))  # fmt: skip
    base = {"--bureau": "220100", "--role": "petition_clerk", "--username": "cc_someone", "--password": PASSWORD}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = run("users", "create", *[part for pair in base.items() for part in pair])
    fails(result, reason, code)
    assert [r.username for r in sql("SELECT username FROM staff_users")] == ["taken_one"]


def test_users_create_needs_a_role(run, sql):
    result = run("users", "create", "--bureau", "220100", "--username", "cc_x", "--password", PASSWORD)
    fails(result, "Missing option '--role'", 2)
    assert sql("SELECT count(*) AS n FROM staff_users")[0].n == 0


def test_seed_demo(run, sql, client):
    out = ok(run("seed", "--demo"))
    assert "Bureaus created: 0." in out
    assert f"Demo accounts (password for all: {DEMO_PASSWORD})" in out
    rows = sql(
        "SELECT b.adcode, s.username, s.roles::text[] AS roles FROM staff_users s JOIN bureaus b ON b.id = s.tenant_id"
    )
    by_bureau: dict[str, set[str]] = {}
    for row in rows:
        assert len(row.roles) == 1
        by_bureau.setdefault(row.adcode, set()).update(row.roles)
        assert row.username in out
    every_role = {r.value for r in Role}
    assert by_bureau == {
        "220000": every_role,
        "220100": every_role - {"province_admin"},
        "220102": every_role - {"province_admin"},
    }
    assert len(rows) == 10 + 9 + 9 + 1  # every role, and the province's general office (§四.3)
    assert "prov_general_office" in {r.username for r in rows}
    # Plausible people, not role titles; each name once, and the printed list shows it beside the username.
    names = {r.username: r.display_name for r in sql("SELECT username, display_name FROM staff_users")}
    assert names["cc_petitions_leader"] == "郑海峰" and "郑海峰" in out
    assert len(set(names.values())) == len(names)
    assert not any("·" in n or "领导" in n or "信访" in n for n in names.values())
    # The demo accounts can sign in, and seeding again adds nothing.
    assert login(client, "ng_clerk", DEMO_PASSWORD).status_code == 302
    again = ok(run("seed", "--demo"))
    assert "Bureaus created: 0." in again
    assert sql("SELECT count(*) AS n FROM staff_users")[0].n == len(rows)


def test_seed_without_demo(run, sql):
    out = ok(run("seed"))
    assert out.strip() == "Bureaus created: 0."
    assert sql("SELECT count(*) AS n FROM staff_users")[0].n == 0

"""The ``tcma`` commands an operator types, run against the test app."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tcma.cli import main
from tests.factories import login


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(main, list(args))


def _count(model) -> int:
    from tcma.extensions import db

    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_demo_loads_once_and_prints_logins(cli, ctx, client):
    from assets.models import Asset, AssetVersion, ZoneSet
    from tcma.auth.models import User
    from tcma.partners.models import Partner

    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "admin@vendor.example" in first.output and "demo-password" in first.output
    assert "Acme Cloud Backup brochure (published, 2 zones)" in first.output
    counts = (_count(User), _count(Partner), _count(Asset), _count(AssetVersion), _count(ZoneSet))
    second = cli("demo")
    assert second.exit_code == 0, second.output
    assert "Acme Cloud Backup brochure (already there)" in second.output
    # idempotent: nothing added the second time, assets and their zones included
    assert (_count(User), _count(Partner), _count(Asset), _count(AssetVersion),
            _count(ZoneSet)) == counts
    assert counts[2:] == (2, 2, 4)  # brochure and tile, one file each, empty + drawn zones
    assert login(client, "admin@northwind.example", "demo-password").status_code == 302
    assert "100%" in client.get("/brand").get_data(as_text=True)
    # The demo partner finds both assets in their library, ready to co-brand.
    library = client.get("/library").get_data(as_text=True)
    assert "Acme Cloud Backup brochure" in library and "Acme Cloud Backup social tile" in library


def test_db_upgrade_is_idempotent(cli):
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_user_create_with_password_can_sign_in(cli, ctx, client):
    result = cli("user", "create", "--email", "ops@vendor.test", "--name", "Ops",
                 "--role", "admin", "--password", "a-long-password")
    assert result.exit_code == 0, result.output
    assert login(client, "ops@vendor.test", "a-long-password").status_code == 302


def test_user_create_without_password_sends_invite(cli, ctx, outbox, jobs):
    result = cli("user", "create", "--email", "new@vendor.test", "--name", "New",
                 "--role", "marketer")
    assert result.exit_code == 0, result.output
    jobs.run()
    (mail,) = outbox.to("new@vendor.test")
    assert "/invite/" in mail.link()


def test_user_create_reports_bad_input(cli, ctx):
    short = cli("user", "create", "--email", "x@vendor.test", "--name", "X", "--role", "admin",
                "--password", "short")
    assert short.exit_code != 0
    assert "at least 10 characters" in short.output
    partner_role = cli("user", "create", "--email", "y@vendor.test", "--name", "Y",
                       "--role", "partner_user")
    assert partner_role.exit_code != 0 and "role" in partner_role.output


def test_token_create_prints_a_working_token(cli, ctx, client):
    cli("user", "create", "--email", "bot@vendor.test", "--name", "Bot", "--role", "admin",
        "--password", "a-long-password")
    result = cli("token", "create", "--email", "bot@vendor.test", "--name", "crm")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["email"] == "bot@vendor.test"


def test_partner_create_and_validation(cli, ctx):
    from tcma.partners.models import Partner

    ok = cli("partner", "create", "--name", "Contoso", "--tier", "gold", "--region", "EMEA",
             "--type", "reseller")
    assert ok.exit_code == 0, ok.output
    assert "contoso" in ok.output
    bad = cli("partner", "create", "--name", "Fabrikam", "--tier", "diamond", "--region",
              "EMEA", "--type", "reseller")
    assert bad.exit_code != 0
    assert "tier" in bad.output and "gold" in bad.output  # names the field and the choices
    assert _count(Partner) == 1


def test_partner_import_all_or_nothing(cli, ctx, tmp_path):
    from tcma.partners.models import Partner

    good = tmp_path / "good.csv"
    good.write_text("name,tier,region,type\nAlpha,gold,EMEA,reseller\nBeta,silver,AMER,agency\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,tier,region,type\nGamma,gold,EMEA,reseller\nDelta,,EMEA,reseller\n")

    failed = cli("partner", "import", str(bad))
    assert failed.exit_code != 0
    assert "line 3 (Delta): tier" in failed.output
    assert _count(Partner) == 0

    checked = cli("partner", "import", str(good), "--dry-run")
    assert checked.exit_code == 0 and "Checked 2" in checked.output
    assert _count(Partner) == 0

    imported = cli("partner", "import", str(good))
    assert imported.exit_code == 0 and "Imported 2" in imported.output
    assert _count(Partner) == 2

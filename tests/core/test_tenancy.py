"""Partner A never sees partner B: every registered route, pages and API, is walked.

Each route argument that names an object is filled with one of partner B's objects, and
partner A (a partner admin, with a valid session or API token) must get 404 for every method.
Routes without object arguments must not show B's data. A route whose argument this test
does not know fails the test, so a new route cannot ship without its tenancy proven.
"""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

from tcma.api import OPERATIONS
from tcma.auth.models import Role
from tests.factories import csrf_from, login, make_partner, make_token, make_user

#: Routes whose argument is an unguessable capability (a signed link), not an object id:
#: whoever holds the link may use it, by design, like an S3 presigned URL.
CAPABILITY_ROUTES = {"static", "files.download", "auth.reset", "auth.accept_invite",
                     "assets.stable_link",
                     # the public tracking redirect: a shared link anyone may follow
                     "links.follow",
                     # public landing pages (and their signed image URLs): published for the
                     # world to read and post leads to, like a partner's own website
                     "landing.partner_page", "landing.generic_page", "landing.media",
                     # an email's unsubscribe page and open pixel: its delivery's random ref
                     # stands for the recipient, who has no account
                     "email_public.unsubscribe", "email_public.opened",
                     # autopilot's one-click skip: a signed token names the post
                     "social.skip_link",
                     # a widget's public embed, reader pages, impression beacon and inline
                     # lead form: the widget's 128-bit token is pasted into the partner's
                     # own website
                     "widget_embed.frame", "widget_embed.reader", "widget_embed.reader_index",
                     "widget_embed.seen", "widget_embed.lead"}

#: A valid JSON body per request model, so the request reaches the object lookup instead of
#: stopping at validation.
VALID_BODIES = {
    "PartnerCreate": {"name": "X", "tier": "gold", "region": "EMEA", "type": "reseller"},
    "PartnerUpdate": {"name": "Renamed", "tier": "gold", "region": "EMEA", "type": "reseller",
                      "language": "en"},
    "PartnerPatch": {"name": "Renamed"},
    "StatusChange": {"status": "suspended"},
    "BrandProfileFields": {"display_name": "Hijacked"},
    "UserInvite": {"email": "intruder@example.com", "name": "Intruder",
                   "role": "partner_user"},
    "UserStatusChange": {"status": "disabled"},
    "TokenCreate": {"name": "x"},
    "ProgramIn": {"vendor_name": "Hijacked"},
    "AssetPatch": {"title": "Hijacked"},
    "ZonesIn": {"zones": []},
    "AssetStatusChange": {"status": "retired"},
    "LinkIn": {"destination": "https://example.com/landing"},
    "LinkPatch": {"disabled": True},
    "WebhookIn": {"url": "http://127.0.0.1:9/hooks", "events": ["lead.created"]},
    "WebhookPatch": {"status": "paused"},
    "WebhookSecretRotate": {"keep_previous_hours": 0},
    "PagePatch": {"title": "Hijacked"},
    "PageStatusChange": {"status": "retired"},
    "LeadStatusIn": {"status": "accepted"},
    "LeadNoteIn": {"text": "Hijacked"},
    "LeadDeclineIn": {"reason": "Hijacked"},
    "LeadAssignIn": {"partner_id": "hijacked"},
    "LeadImportIn": {"items": [{"email": "intruder@example.com"}]},
    "RoutingRuleIn": {"name": "Hijacked"},
    "RoutingRulePatch": {"name": "Hijacked"},
    "ContactIn": {"email": "intruder@example.com", "consent_source": "x",
                  "consent_date": "2026-01-01"},
    "ContactPatch": {"first_name": "Hijacked"},
    "ContactListIn": {"name": "Hijacked"},
    "ListMembersIn": {"contact_ids": ["x"]},
    "KitIn": {"name": "Hijacked"},
    "KitPatch": {"name": "Hijacked"},
    "EmailsIn": {"emails": []},
    "PostsIn": {"posts": []},
    "PostIn": {"key": "announce", "name": "Hijacked", "texts": {"x": "Hijacked"}},
    "PostTextIn": {"text": "Hijacked"},
    "AutopilotIn": {"categories": ["hijacked"]},
    "StepsIn": {"steps": []},
    "ReferencesIn": {"asset_ids": []},
    "LaunchIn": {"kit_id": "hijacked"},
    "FundCreate": {"name": "Hijacked", "currency": "EUR", "period_start": "2026-01-01",
                   "period_end": "2026-12-31", "budget": "1"},
    "FundPatch": {"name": "Hijacked"},
    "AllocationIn": {"amount": "1"},
    "TierRuleIn": {"amounts": {"gold": "1"}},
    "FundRequestIn": {"fund_id": "hijacked", "activity_type": "other", "title": "Hijacked",
                      "starts_on": "2026-01-01", "ends_on": "2026-01-01",
                      "estimated_cost": "2", "requested": "1"},
    "FundRequestPatch": {"title": "Hijacked"},
    "ClaimFields": {"actual_cost": "2", "claimed_amount": "1"},
    "ReviewNoteIn": {"comment": "Hijacked"},
    "ApprovalIn": {},
    "RejectionIn": {"reason": "Hijacked"},
    "CancellationIn": {},
    "PaymentIn": {"reference": "Hijacked"},
    "PaymentRunIn": {"request_ids": ["hijacked"], "reference": "Hijacked"},
    "ItemFields": {"kind": "article", "title": "Hijacked", "body": "<p>Hijacked</p>"},
    "SyndicatedItemPatch": {"title": "Hijacked"},
    "WidgetFields": {"name": "Hijacked"},
    "WidgetPatch": {"name": "Hijacked"},
}


@pytest.fixture
def world(app, ctx, outbox, jobs, monkeypatch):
    """Two partners, each with an admin, a colleague, a token and a logo'd brand profile."""
    from tcma.auth import service as accounts
    from tcma.extensions import db
    from tcma.partners import service as partners

    a = make_partner("Alpha Partners", tier="silver")
    b = make_partner("Bravo Secret Partners", tier="gold")
    a_admin = make_user(Role.PARTNER_ADMIN, partner=a, email="admin@alpha.test")
    b_admin = make_user(Role.PARTNER_ADMIN, partner=b, email="admin@bravo-secret.test")
    b_colleague = accounts.invite_user(email="colleague@bravo-secret.test", name="Bravo Colleague",
                                       role=Role.PARTNER_USER, partner=b)
    partners.update_brand_profile(b, {"display_name": "Bravo Secret Brand",
                                      "phone": "+49 30 1234567"}, by=b_admin)
    db.session.commit()
    jobs.run()  # the colleague's invitation lands in the outbox: a real message id
    b_token, _ = accounts.create_api_token(b_admin, "bravo integration")
    db.session.commit()
    messages = sorted(p.stem for p in outbox.folder.glob("*.eml"))
    b_only_asset = _published_asset(tiers=["gold"])  # in B's library, not in A's
    b_bundle = _bundle(b, b_only_asset)
    jobs.run()  # B's ZIP is built: A must not reach it in any state
    b_link = _tracking_link(b)
    webhook_id, webhook_delivery_id = _webhook_delivery()
    b_page, b_lead = _landing_page_lead(b)
    b_rule = _routing_rule(b)
    b_contact, b_list, b_import = _contacts(b)
    b_kit = _gold_kit()  # in B's catalogue (gold), not in A's (silver)
    b_launch = _launch(b, b_kit)
    b_fund, b_request, b_file = _fund_request(b, b_admin)
    b_social = _social_account(app, monkeypatch, b_admin)
    b_post = _social_post(b, b_social)
    b_item, b_widget, b_widget_token = _widget(b)
    assert messages, "expected an outbox message to point at"
    return {
        "a_admin": a_admin,
        "a_token": make_token(a_admin),
        "objects": {
            "partner_id": b.public_id,
            "user_id": b_colleague.public_id,
            "token_id": b_token.public_id,
            "message_id": messages[0],
            "asset_id": b_only_asset.public_id,
            "bundle_id": b_bundle,
            "code": b_link,
            "webhook_id": webhook_id,
            "webhook_delivery_id": webhook_delivery_id,
            "page_id": b_page,
            "lead_id": b_lead,
            "routing_rule_id": b_rule,
            "contact_id": b_contact,
            "list_id": b_list,
            "import_id": b_import,
            "page": 1,
            "kit_id": b_kit,
            "email_key": "welcome",
            "post_key": "announce",
            "number": 1,
            "launch_id": b_launch,
            "fund_id": b_fund,
            "request_id": b_request,
            "file_id": b_file,
            "account_id": b_social,
            "post_id": b_post,
            "item_id": b_item,
            "widget_id": b_widget,
        },
        # Strings only partner B's data contains.
        "markers": ["Bravo Secret", "bravo-secret.test", "+49 30 1234567", b.public_id,
                    b_colleague.public_id, "bravo-secret-offer", b_link,
                    "bravo-secret-contact@example.com", b_launch, b_fund, b_request, b_file,
                    "bravo-secret-invoice", b_post, "Bravo Secret post text", b_widget,
                    b_widget_token, "Bravo Secret widget", "bravo-secret.example"],
    }


def _published_asset(*, tiers: list[str]):
    import io

    from PIL import Image

    from assets import library
    from assets.models import AssetStatus
    from tcma.extensions import db

    image = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(image, "PNG")
    asset = library.create_asset({"title": "Gold-only banner", "allowed_tiers": tiers},
                                 image.getvalue(), "banner.png", by=None, tiers=["gold", "silver"],
                                 regions=["EMEA"])
    asset.status = AssetStatus.PUBLISHED
    db.session.commit()
    return asset


def _bundle(partner, asset) -> str:
    """Partner B's ZIP of its copies (the public id)."""
    from assets import bundles
    from tcma.extensions import db

    bundle = bundles.request_bundle(partner, [asset])
    db.session.commit()
    return bundle.public_id


def _landing_page_lead(partner) -> tuple[str, str]:
    """A gold-only landing page (live for B, not for silver A) and B's lead from it."""
    from syndication.leads import service as leads
    from syndication.leads.form import Submission
    from syndication.pages import service as pages
    from tcma.extensions import db

    page = pages.create_page({"slug": "gold-offer", "title": "Gold offer", "headline": "Gold",
                              "allowed_tiers": ["gold"]}, by=None)
    pages.set_status(page, "published", by=None)
    lead, _ = leads.capture(page, partner, Submission(
        values={"first_name": "Bravo Secret Lead", "email": "lead@example.com"},
        consent_given=False), consent_text="", first_click_id=None, last_click_id=None,
        ip="192.0.2.1", user_agent="")
    db.session.commit()
    return page.public_id, lead.public_id


def _gold_kit() -> str:
    """A published kit only gold partners may launch, with one email."""
    from campaigns import content, kits
    from tcma.extensions import db

    kit = kits.create_kit({"name": "Gold-only kit", "allowed_tiers": ["gold"]}, by=None,
                          tiers=["gold", "silver"], regions=["EMEA"], types=["reseller"])
    content.put_emails(kit, [{"key": "welcome", "name": "Welcome", "subject": "Hi",
                              "mjml": "<mjml><mj-body><mj-text>{{ partner.phone }}</mj-text>"
                                      "</mj-body></mjml>"}], by=None)
    content.put_steps(kit, [{"day": 0, "time": "09:00", "item": "welcome"}], by=None)
    kits.publish(kit, by=None)
    db.session.commit()
    return kit.public_id


def _launch(partner, kit_id: str) -> str:
    """B's launch of its gold kit to its contacts, due tomorrow (the public id)."""
    from datetime import timedelta

    from campaigns import kits, launches
    from tcma.extensions import db
    from tcma.models import utcnow
    from tcma.partners import service as partners

    partners.update_brand_profile(partner, {
        "display_name": "Bravo Secret Brand", "phone": "+49 30 1234567",
        "email": "hello@bravo-secret.example", "address_line1": "Geheimweg 1", "city": "Berlin",
        "postal_code": "10115", "country": "DE"}, by=None)
    launch = launches.launch_kit(partner, kits.get_kit(kit_id),
                                 start_at=utcnow() + timedelta(days=1))
    db.session.commit()
    return launch.public_id


def _fund_request(partner, partner_admin) -> tuple[str, str, str]:
    """A fund only B holds an allocation in, B's approved request against it and the proof
    file of its claim (their public ids)."""
    import io
    from datetime import timedelta

    from reportlab.pdfgen import canvas

    from mdf import funds, requests
    from tcma.extensions import db
    from tcma.models import utcnow

    today = utcnow().date()
    manager = make_user(Role.CHANNEL_MANAGER)
    fund = funds.create_fund({"name": "Bravo Secret fund", "currency": "EUR",
                              "period_start": today.isoformat(),
                              "period_end": (today + timedelta(days=90)).isoformat(),
                              "budget": "50000"}, by=manager)
    funds.set_allocation(fund, partner, "7777.77", by=manager)
    request = requests.create_request(partner, fund, {
        "activity_type": "event", "title": "Bravo Secret roadshow",
        "starts_on": today.isoformat(), "ends_on": today.isoformat(),
        "estimated_cost": "3000", "requested": "3000"}, by=partner_admin)
    requests.submit(request, by=partner_admin)
    requests.approve(request, by=manager)
    pdf = io.BytesIO()
    page = canvas.Canvas(pdf)
    page.drawString(72, 720, "Bravo Secret invoice")
    page.save()
    proof = requests.add_proof(request, pdf.getvalue(), "bravo-secret-invoice.pdf",
                               by=partner_admin)
    db.session.commit()
    return fund.public_id, request.public_id, proof.public_id


def _social_account(app, monkeypatch, partner_admin) -> str:
    """Partner B's X account, connected through the OAuth flow against the loopback fake
    (the public id); its name carries the marker."""
    from urllib.parse import parse_qs, urlsplit

    import requests

    from syndication.social import service
    from syndication.social.fakes import FakeX
    from syndication.social.models import Network
    from tcma.extensions import db

    fake = FakeX()
    fake.user["name"] = "Bravo Secret Social"
    for name, value in {"CLIENT_ID": fake.client_id, "CLIENT_SECRET": fake.client_secret,
                        "AUTH": fake.url, "API": fake.url}.items():
        monkeypatch.setitem(app.config, f"SOCIAL_X_{name}", value)
    try:
        with app.test_request_context():
            authorise = service.start_connect(partner_admin, Network.X)
            back = requests.get(authorise, allow_redirects=False, timeout=5).headers["Location"]
            query = parse_qs(urlsplit(back).query)
            [account] = service.finish_connect(partner_admin, Network.X,
                                               state=query["state"][0], code=query["code"][0])
            db.session.commit()
            return account.public_id
    finally:
        fake.close()


def _social_post(partner, account_public_id: str) -> str:
    """Partner B's post scheduled on its X account (the public id)."""
    from datetime import timedelta

    from syndication.social import service
    from syndication.social.models import PostStatus, SocialPost
    from tcma.extensions import db
    from tcma.models import utcnow

    account = service.get_account(account_public_id)
    post = SocialPost(partner_id=partner.id, item="announce", kit_name="Bravo Secret kit",
                      account_id=account.id, network=account.network,
                      account_name=account.display_name, text="Bravo Secret post text",
                      due_at=utcnow() + timedelta(days=2), status=PostStatus.SCHEDULED)
    db.session.add(post)
    db.session.commit()
    return post.public_id


def _widget(partner) -> tuple[str, str, str]:
    """A live syndicated item (vendor-only to edit) and B's widget, with an impression:
    (item public id, widget public id, widget token)."""
    from datetime import timedelta

    from syndication.widget import content, impressions
    from syndication.widget import service as widgets
    from tcma.extensions import db
    from tcma.models import utcnow

    item = content.create_item({"kind": "article", "title": "Gold guide", "body": "<p>x</p>",
                                "allowed_tiers": ["gold"],
                                "publish_at": (utcnow() - timedelta(hours=1)).isoformat()},
                               by=None, tiers=["gold", "silver"], regions=["EMEA"],
                               types=["reseller"])
    widget = widgets.create_widget(partner, {"name": "Bravo Secret widget",
                                             "domains": ["www.bravo-secret.example"]}, by=None)
    db.session.flush()
    impressions.record_impression(widget, [item.public_id], ip="192.0.2.1",
                              user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0")
    db.session.commit()
    return item.public_id, widget.public_id, widget.token


def _contacts(partner) -> tuple[str, str, str]:
    """Partner B's contact, named list and finished CSV import (with a reported bad row)."""
    import io

    from syndication.email import contacts, import_run, importer, lists
    from tcma.extensions import db

    contact = contacts.add_contact(partner, {
        "email": "bravo-secret-contact@example.com", "first_name": "Bravo Secret Contact",
        "consent_source": "Bravo Secret fair", "consent_date": "2026-01-01"}).contact
    contact_list = lists.create_list(partner, "Bravo Secret list")
    imp = importer.upload(partner, io.BytesIO(
        b"Email,Name\nbravo-secret-contact@example.com,Bravo Secret\nbroken,x\n"), "b.csv")
    importer.start(imp, mapping=imp.mapping, consent_source="fair", consent_date="2026-01-01")
    db.session.commit()
    import_run.run(imp.id)
    return contact.public_id, contact_list.public_id, imp.public_id


def _routing_rule(partner) -> str:
    """The vendor's routing rule sending leads to B (vendor-only: partners never reach it)."""
    from syndication.leads import rules
    from tcma.extensions import db

    rule = rules.create_rule({"name": "Bravo Secret leads", "strategy": "fixed",
                              "fixed_partner_id": partner.public_id}, by=None)
    db.session.commit()
    return rule.public_id


def _tracking_link(partner) -> str:
    """Partner B's tracking link (its code), clicked once and drained."""
    from syndication.links import clicks, service
    from tcma.extensions import db

    link = service.link_for(partner, "https://vendor.example.com/bravo-secret-offer", "email")
    db.session.commit()
    clicks.record(service.new_click_id(link.code), link.code, ip="192.0.2.1",
                  user_agent="Mozilla/5.0", referrer="", prefetch=False, delivery_ref=None)
    clicks.drain()
    return link.code


def _webhook_delivery() -> tuple[str, str]:
    """The vendor's webhook endpoint (named with a marker) and a delivery to it: vendor-only
    objects a partner must not reach either."""
    from tcma.extensions import db
    from tcma.webhooks import deliveries, events, service

    endpoint, _ = service.create_endpoint({
        "url": "http://127.0.0.1:9/hooks", "description": "Bravo Secret CRM sync",
        "events": [e.name for e in events.subscribable_events()][:1]})
    delivery = deliveries.send_test(endpoint)
    db.session.commit()
    return endpoint.public_id, delivery.public_id


def _rules(app) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def _methods(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _body_for(endpoint: str, method: str):
    for op in OPERATIONS:
        if op.endpoint == endpoint and op.method == method and op.body is not None:
            name = op.body.__name__
            assert name in VALID_BODIES, (
                f"{endpoint} {method} takes {name}: add a valid example to VALID_BODIES so "
                "the tenancy test reaches its object lookup")
            return VALID_BODIES[name]
    return None


def test_every_route_hides_partner_b_from_partner_a(app, world):
    a_session = app.test_client()
    assert login(a_session, world["a_admin"].email).status_code == 302
    csrf = csrf_from(a_session.get("/account").get_data(as_text=True))
    api_headers = {"Authorization": f"Bearer {world['a_token']}"}

    checked, leaks, uncovered = 0, [], []
    for rule in _rules(app):
        if rule.endpoint in CAPABILITY_ROUTES:
            continue
        args = sorted(rule.arguments)
        unknown = [a for a in args if a not in world["objects"]]
        if unknown:
            uncovered.append(f"{rule.rule} ({rule.endpoint}): unknown argument(s) {unknown}")
            continue
        is_api = rule.rule.startswith("/api/")
        for method in _methods(rule):
            if not args:
                if method != "GET":
                    continue  # no object to reach; writes only touch the caller's own partner
                url = rule.rule
            else:
                url = rule.build({a: world["objects"][a] for a in args}, append_unknown=False)[1]
            if is_api:
                response = a_session.open(url, method=method, headers=api_headers,
                                          json=_body_for(rule.endpoint, method))
            else:
                data = {"csrf_token": csrf} if method != "GET" else None
                response = a_session.open(url, method=method, data=data)
            checked += 1
            body = response.get_data(as_text=True)
            if args and response.status_code != 404:
                leaks.append(f"{method} {url} ({rule.endpoint}) -> {response.status_code}, "
                             "expected 404")
            found = [m for m in world["markers"] if m in body]
            if found:
                leaks.append(f"{method} {url} ({rule.endpoint}) shows partner B data: {found}")

    assert not uncovered, "routes this tenancy test does not cover:\n" + "\n".join(uncovered)
    assert not leaks, "partner A reached partner B:\n" + "\n".join(leaks)
    assert checked > 40  # the walk really happened


def test_tenant_scope_filters_queries_and_refuses_cross_partner_writes(app, ctx):
    """The mechanism itself: queries in a partner-scoped session see one partner only."""
    from sqlalchemy import select

    from tcma.auth.models import User
    from tcma.extensions import db
    from tcma.partners.models import BrandProfile, Partner
    from tcma.tenancy import scope_session_to_partner

    a = make_partner("Alpha")
    b = make_partner("Bravo")
    make_user(Role.PARTNER_USER, partner=a)
    make_user(Role.PARTNER_USER, partner=b)
    make_user(Role.ADMIN)
    a_id, b_id = a.id, b.id
    db.session.remove()

    scope_session_to_partner(a_id)
    assert [p.id for p in db.session.execute(select(Partner)).scalars()] == [a_id]
    assert {u.partner_id for u in db.session.execute(select(User)).scalars()} == {a_id}
    assert {p.partner_id for p in db.session.execute(select(BrandProfile)).scalars()} == {a_id}
    assert db.session.get(Partner, b_id) is None
    # Joins are filtered too, not just the top-level entity.
    joined = db.session.execute(
        select(User.email).join(Partner, Partner.id == User.partner_id)
    ).scalars().all()
    assert joined and all(re.match(r"user\d+@example\.test", e) for e in joined)
    assert len(joined) == 1

    db.session.add(BrandProfile(partner_id=b_id, version=99, display_name="Injected"))
    with pytest.raises(PermissionError):
        db.session.flush()
    db.session.rollback()
    db.session.remove()

    scope_session_to_partner(None)
    assert len(db.session.execute(select(Partner)).scalars().all()) == 2


def test_scoping_to_the_signed_in_partner_keeps_only_what_is_theirs(app, ctx):
    """The request hook keeps the user and their partner loaded across the scope change;
    anything else loaded before it (another partner's row) is expired, and queries under the
    scope see only the user's partner."""
    from sqlalchemy import select

    from tcma.extensions import db
    from tcma.partners.models import Partner
    from tcma.tenancy import scope_session_to_partner

    a, b = make_partner("Alpha"), make_partner("Bravo")
    user = make_user(Role.PARTNER_USER, partner=a)
    db.session.expire_all()
    loaded_b = db.session.get(Partner, b.id)
    assert loaded_b.name == "Bravo" and user.partner.name == "Alpha"  # loaded unscoped
    scope_session_to_partner(a.id, keep=(user, user.partner))
    try:
        assert "name" in user.partner.__dict__  # kept as loaded: no query
        assert "name" not in loaded_b.__dict__  # expired
        assert db.session.execute(select(Partner)).scalars().all() == [user.partner]
    finally:
        scope_session_to_partner(None)

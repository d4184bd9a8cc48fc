"""Contacts: merging duplicates, consent, lists, the global suppression list across partners,
the partner's pages and API, and tenancy, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from syndication.email import contacts, lists, suppression
from syndication.email.fields import clean
from syndication.email.models import (
    Contact,
    ContactStatus,
    ListMembership,
    Suppression,
    SuppressionReason,
)
from tcma.errors import Conflict, ValidationFailed
from tcma.extensions import db
from tests.factories import csrf_from, login, make_partner, make_token, make_user

CONSENT = {"consent_source": "trade show 2026", "consent_date": "2026-03-02"}


def add(partner, email: str, **values):
    """Add (or merge) one contact for ``partner`` and commit; returns the Upserted."""
    done = contacts.add_contact(partner, {"email": email, **CONSENT, **values})
    db.session.commit()
    return done


def count_contacts(partner) -> int:
    return db.session.execute(select(func.count()).select_from(Contact)
                              .where(Contact.partner_id == partner.id)).scalar_one()


def signed_in(app, client, role: str, partner=None):
    """A client signed in as a new user; returns the user's email."""
    with app.app_context():
        if partner is not None:
            partner = db.session.merge(partner)
        user = make_user(role, partner=partner)
        email = user.email
    assert login(client, email).status_code == 302
    return email


# --- merging and consent -------------------------------------------------------------------------


def test_duplicates_merge_newer_non_empty_values_win_and_tags_add_up(ctx):
    partner = make_partner("Northwind")
    first = add(partner, "  Dana.Smith@Example.COM ", first_name="Dana", company="Old Corp",
                phone="+49 30 1", tags="vip, Trade Show")
    assert first.created and first.contact.email == "dana.smith@example.com"

    again = add(partner, "dana.smith@example.com", company="New Corp", phone="",
                job_title="CTO", tags="webinar, vip", consent_source="website form",
                consent_date="2026-04-10")
    assert not again.created and again.contact.id == first.contact.id
    db.session.expire_all()
    [contact] = db.session.execute(select(Contact)).scalars().all()
    assert (contact.first_name, contact.company, contact.phone, contact.job_title) == (
        "Dana", "New Corp", "+49 30 1", "CTO")  # empty phone did not wipe the old one
    assert contact.tag_names == ["trade show", "vip", "webinar"]
    assert (contact.consent_source, contact.consent_at) == (
        "website form", datetime(2026, 4, 10, tzinfo=UTC))

    # A batch with the same person twice (as in one file) merges in order, too.
    done = contacts.upsert_many(partner.id, [
        clean({"email": "kim@example.com", "first_name": "Kim", **CONSENT}).values,
        clean({"email": "KIM@example.com", "last_name": "Lee", "tags": "x",
                        **CONSENT}).values], via="import")
    db.session.commit()
    assert done["kim@example.com"].created
    kim = db.session.get(Contact, done["kim@example.com"].contact_id)
    assert (kim.first_name, kim.last_name, kim.tag_names) == ("Kim", "Lee", ["x"])
    assert count_contacts(partner) == 2


def test_every_contact_needs_a_consent_source_and_date(ctx):
    partner = make_partner()
    with pytest.raises(ValidationFailed) as refused:
        contacts.add_contact(partner, {"email": "no-consent@example.com"})
    assert refused.value.for_field("consent_source") == (
        "Every contact needs a consent source and date.")
    assert refused.value.for_field("consent_date")
    with pytest.raises(ValidationFailed) as future:
        contacts.add_contact(partner, {"email": "a@example.com", "consent_source": "form",
                                       "consent_date": "2999-01-01"})
    assert "future" in future.value.for_field("consent_date")
    with pytest.raises(ValidationFailed) as bad:
        contacts.add_contact(partner, {"email": "not an address", **CONSENT,
                                       "first_name": "x" * 101, "country": "Atlantis"})
    assert set(e.field for e in bad.value.errors) == {"email", "first_name", "country"}
    db.session.rollback()
    assert count_contacts(partner) == 0


def test_one_address_is_one_contact_per_partner_and_separate_across_partners(ctx):
    a, b = make_partner("Alpha"), make_partner("Bravo")
    add(a, "same@example.com", first_name="For A")
    add(b, "SAME@example.com", first_name="For B")
    assert count_contacts(a) == count_contacts(b) == 1
    with pytest.raises(Conflict):
        other = add(a, "other@example.com").contact
        contacts.update_contact(other, {"email": "same@example.com"})


# --- suppression ---------------------------------------------------------------------------------


def test_a_hard_bounce_at_one_partner_suppresses_the_address_for_every_partner(ctx):
    a, b = make_partner("Alpha"), make_partner("Bravo")
    add(a, "gone@example.com")
    b_contact = add(b, "Gone@Example.com").contact
    add(b, "fine@example.com")
    assert suppression.can_email(b, "gone@example.com") == (True, "ok")

    suppression.record_hard_bounce(a, "gone@example.com")
    db.session.commit()

    assert suppression.can_email(b, "GONE@example.com") == (False, "global:hard_bounce")
    assert suppression.suppressed_emails(b, ["gone@example.com", "fine@example.com"]) == {
        "gone@example.com"}
    a_contact = db.session.execute(select(Contact).where(Contact.partner_id == a.id)).scalar_one()
    assert a_contact.status is ContactStatus.BOUNCED  # the sender's own contact
    assert b_contact.status is ContactStatus.SUBSCRIBED  # B's state is B's; the list blocks it
    assert contacts.suppression_states([b_contact]) == {
        b_contact.id: SuppressionReason.HARD_BOUNCE}
    default = lists.default_list(b.id)
    assert lists.counts([default])[default.id] == lists.ListCounts(members=2, sendable=1)
    sendable = db.session.execute(lists.sendable_contacts(default)).scalars().all()
    assert [c.email for c in sendable] == ["fine@example.com"]
    # Only a keyed digest is stored, never the address.
    stored = db.session.execute(select(Suppression)).scalar_one()
    assert stored.email_hash == suppression.digest("gone@example.com")
    assert "gone" not in stored.email_hash and len(stored.email_hash) == 64


def test_can_email_and_the_bulk_check_agree_on_every_reason(ctx):
    partner = make_partner()
    add(partner, "ok@example.com")
    contacts.unsubscribe(add(partner, "left@example.com").contact, how="unsubscribe link")
    add(partner, "spam@example.com")
    suppression.record_complaint(partner, "spam@example.com")
    suppression.suppress("everyone@example.com", "unsubscribed_all")
    add(partner, "everyone@example.com")
    db.session.commit()
    expected = {"ok@example.com": (True, "ok"),
                "left@example.com": (False, "unsubscribed"),
                "spam@example.com": (False, "global:complaint"),
                "everyone@example.com": (False, "global:unsubscribed_all"),
                "stranger@example.com": (False, "not_a_contact")}
    assert {e: suppression.can_email(partner, e) for e in expected} == expected
    assert suppression.suppressed_emails(partner, list(expected)) == {
        e for e, (ok, _) in expected.items() if not ok}


def test_deleting_a_contact_never_lifts_a_suppression_and_erasure_adds_one(ctx):
    partner = make_partner()
    bounced = add(partner, "bounced@example.com").contact
    suppression.record_hard_bounce(partner, "bounced@example.com")
    contacts.delete_contact(bounced)
    erased = add(partner, "forget-me@example.com", first_name="Private").contact
    contacts.delete_contact(erased, forget=True)
    db.session.commit()
    assert count_contacts(partner) == 0
    reasons = dict(db.session.execute(select(Suppression.email_hash, Suppression.reason)).all())
    assert reasons == {suppression.digest("bounced@example.com"): SuppressionReason.HARD_BOUNCE,
                       suppression.digest("forget-me@example.com"): SuppressionReason.ERASED}
    # Imported again later: kept as a record, never emailed.
    again = add(partner, "forget-me@example.com").contact
    assert suppression.can_email(partner, again.email) == (False, "global:erased")


# --- lists ---------------------------------------------------------------------------------------


def test_lists_default_membership_named_lists_and_counts(ctx):
    partner = make_partner()
    dana, kim, lee = (add(partner, f"{n}@example.com").contact for n in ("dana", "kim", "lee"))
    default = lists.default_list(partner.id)
    assert default.name == "All contacts" and default.is_default
    webinar = lists.create_list(partner, "Webinar guests")
    with pytest.raises(Conflict):
        lists.create_list(partner, "webinar GUESTS")
    assert lists.add_members(webinar, [dana.id, kim.id]) == 2
    assert lists.add_members(webinar, [kim.id, lee.id]) == 1  # Kim is on it already
    contacts.unsubscribe(lee, how="by hand")
    db.session.commit()
    counted = lists.counts([default, webinar])
    assert counted[default.id] == lists.ListCounts(3, 2)
    assert counted[webinar.id] == lists.ListCounts(3, 2)
    assert lists.remove_members(webinar, [dana.id]) == 1
    with pytest.raises(Conflict):
        lists.remove_members(default, [dana.id])
    with pytest.raises(Conflict):
        lists.delete_list(default)
    lists.delete_list(webinar)
    db.session.commit()
    assert count_contacts(partner) == 3
    assert db.session.execute(select(func.count()).select_from(ListMembership)).scalar_one() == 3


# --- pages ---------------------------------------------------------------------------------------


def test_a_partner_adds_finds_edits_unsubscribes_and_deletes_a_contact(app, client):
    with app.app_context():
        partner = make_partner("Northwind")
    signed_in(app, client, "partner_user", partner)
    page = client.get("/contacts")
    assert page.status_code == 200 and "No contacts yet" in page.get_data(as_text=True)
    form = client.get("/contacts/new").get_data(as_text=True)
    refused = client.post("/contacts/new", data={"csrf_token": csrf_from(form),
                                                 "email": "dana@example.com"})
    assert refused.status_code == 422
    assert "Every contact needs a consent source and date." in refused.get_data(as_text=True)
    added = client.post("/contacts/new", data={
        "csrf_token": csrf_from(form), "email": "Dana@Example.com", "first_name": "Dana",
        "company": "Contoso <b>GmbH</b>", "tags": "vip", "country": "DE",
        "custom_name": ["Industry", ""], "custom_value": ["Retail", ""], **CONSENT})
    assert added.status_code == 302
    detail_url = added.headers["Location"]
    detail = client.get(detail_url).get_data(as_text=True)
    assert 'data-state="subscribed"' in detail and "Contoso &lt;b&gt;GmbH&lt;/b&gt;" in detail
    assert 'value="Retail"' in detail

    found = client.get("/contacts", query_string={"q": "conto", "tag": "vip",
                                                  "status": "subscribed"})
    assert "dana@example.com" in found.get_data(as_text=True)
    none = client.get("/contacts", query_string={"status": "unsubscribed"})
    assert "dana@example.com" not in none.get_data(as_text=True)

    saved = client.post(detail_url, data={"csrf_token": csrf_from(detail),
                                          "email": "dana@example.com", "first_name": "Dana",
                                          "last_name": "Smith", "tags": "vip, partner",
                                          **CONSENT})
    assert saved.status_code == 302
    client.post(f"{detail_url}/unsubscribe", data={"csrf_token": csrf_from(detail)})
    after = client.get(detail_url).get_data(as_text=True)
    assert 'data-state="unsubscribed"' in after and "Dana Smith" in after
    with app.app_context():
        contact = db.session.execute(select(Contact)).scalar_one()
        assert contact.tag_names == ["partner", "vip"] and contact.company == ""
        assert contact.status_reason.startswith("by hand")
    gone = client.post(f"{detail_url}/delete", data={"csrf_token": csrf_from(after)})
    assert gone.status_code == 302 and client.get(detail_url).status_code == 404


def test_a_suppressed_address_shows_as_suppressed_on_the_other_partners_pages(app, client):
    with app.app_context():
        a, b = make_partner("Alpha"), make_partner("Bravo")
        add(a, "bounced@example.com")
        b_contact = add(b, "bounced@example.com").contact.public_id
        suppression.record_hard_bounce(a, "bounced@example.com")
        db.session.commit()
    signed_in(app, client, "partner_admin", b)
    listing = client.get("/contacts", query_string={"status": "suppressed"})
    assert 'data-state="suppressed"' in listing.get_data(as_text=True)
    detail = client.get(f"/contacts/{b_contact}").get_data(as_text=True)
    assert "global suppression list (hard bounce)" in detail
    assert "Can be emailed" in client.get("/contacts/lists").get_data(as_text=True)


@pytest.mark.parametrize("role", ["admin", "marketer", "channel_manager", "finance"])
def test_vendor_staff_get_404_on_partner_contact_pages(app, client, role):
    with app.app_context():
        partner = make_partner()
        contact = add(partner, "private@example.com").contact.public_id
        contact_list = lists.create_list(partner, "Private list").public_id
        db.session.commit()
    signed_in(app, client, role)
    for url in ("/contacts", "/contacts/new", f"/contacts/{contact}", "/contacts/lists",
                "/contacts/import"):
        assert client.get(url).status_code == 404, url
    page = client.get("/account").get_data(as_text=True)
    assert client.post(f"/contacts/lists/{contact_list}/delete",
                       data={"csrf_token": csrf_from(page)}).status_code == 404
    assert ">Contacts</a>" not in page


def test_the_vendor_admin_sees_only_digests_and_counts_of_the_suppression_list(app, client):
    with app.app_context():
        partner = make_partner()
        add(partner, "bounced-person@example.com")
        suppression.record_hard_bounce(partner, "bounced-person@example.com")
        db.session.commit()
        digest = suppression.digest("bounced-person@example.com")
    signed_in(app, client, "admin")
    page = client.get("/suppressions")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and digest[:12] in html
    assert "bounced-person" not in html and 'id="suppressed-total">1<' in html
    checked = client.post("/suppressions", data={"csrf_token": csrf_from(html), "action": "check",
                                                 "email": "Bounced-Person@example.com"})
    assert "Suppressed (hard bounce)" in checked.get_data(as_text=True)
    client.post("/suppressions", data={"csrf_token": csrf_from(html), "action": "suppress",
                                       "email": "stop-all@example.com"})
    with app.app_context():
        assert suppression.global_reason("stop-all@example.com") is (
            SuppressionReason.UNSUBSCRIBED_ALL)
    marketer = app.test_client()
    signed_in(app, marketer, "marketer")
    assert marketer.get("/suppressions").status_code == 403


# --- tenancy and the API -------------------------------------------------------------------------


def test_partner_a_never_sees_partner_bs_contacts_lists_or_imports(app, client):
    import io

    from syndication.email import importer

    with app.app_context():
        a, b = make_partner("Alpha"), make_partner("Bravo")
        add(a, "alpha-person@example.com")
        b_contact = add(b, "bravo-secret@example.com", first_name="Secret").contact.public_id
        b_list = lists.create_list(b, "Bravo secret list").public_id
        b_import = importer.upload(b, io.BytesIO(b"Email\nbravo-secret@example.com\n"),
                                   "bravo.csv").public_id
        db.session.commit()
        a_token = make_token(make_user("partner_admin", partner=a))
    signed_in(app, client, "partner_admin", a)
    listing = client.get("/contacts").get_data(as_text=True)
    assert "alpha-person@example.com" in listing and "bravo-secret" not in listing
    assert "Bravo secret list" not in client.get("/contacts/lists").get_data(as_text=True)
    for url in (f"/contacts/{b_contact}", f"/contacts/imports/{b_import}",
                f"/contacts/imports/{b_import}/progress",
                f"/contacts/imports/{b_import}/report.csv"):
        assert client.get(url).status_code == 404, url
    assert "bravo-secret" not in client.get(
        "/contacts", query_string={"list": b_list}).get_data(as_text=True)
    csrf = csrf_from(listing)
    moved = client.post("/contacts/members", data={"csrf_token": csrf, "list_id": b_list,
                                                   "contact_ids": b_contact, "action": "add"})
    assert moved.status_code == 302
    api = {"Authorization": f"Bearer {a_token}"}
    assert client.get(f"/api/v1/contacts/{b_contact}", headers=api).status_code == 404
    assert client.get(f"/api/v1/contact-imports/{b_import}", headers=api).status_code == 404
    body = client.get("/api/v1/contacts", headers=api).get_json()
    assert [c["email"] for c in body["items"]] == ["alpha-person@example.com"]
    stolen = client.post(f"/api/v1/contact-lists/{b_list}/members", headers=api,
                         json={"contact_ids": [b_contact]})
    assert stolen.status_code == 404
    with app.app_context():  # nothing moved onto B's list
        b_members = db.session.execute(
            select(func.count()).select_from(ListMembership)
            .join(Contact, Contact.id == ListMembership.contact_id)
            .where(Contact.public_id == b_contact)).scalar_one()
        assert b_members == 1  # "All contacts" only


def test_the_contacts_api_adds_merges_changes_lists_and_deletes(app, client):
    with app.app_context():
        partner = make_partner()
        token = make_token(make_user("partner_user", partner=partner))
        vendor = make_token(make_user("admin"))
    api = {"Authorization": f"Bearer {token}"}
    refused = client.post("/api/v1/contacts", headers=api, json={
        "email": "api@example.com", "consent_source": "form", "consent_date": ""})
    assert refused.status_code == 422
    made = client.post("/api/v1/contacts", headers=api, json={
        "email": "API@example.com", "first_name": "Ann", "tags": ["crm"],
        "custom_fields": {"Industry": "Retail"}, **CONSENT})
    assert made.status_code == 201, made.get_json()
    contact = made.get_json()
    assert contact["email"] == "api@example.com" and contact["can_email"]
    merged = client.post("/api/v1/contacts", headers=api, json={
        "email": "api@example.com", "company": "Initech", "tags": ["lead"], **CONSENT})
    assert merged.status_code == 200
    assert merged.get_json()["tags"] == ["crm", "lead"] and merged.get_json()["first_name"] == "Ann"

    new_list = client.post("/api/v1/contact-lists", headers=api, json={"name": "VIP"})
    assert new_list.status_code == 201
    vip = new_list.get_json()["id"]
    joined = client.post(f"/api/v1/contact-lists/{vip}/members", headers=api,
                         json={"contact_ids": [contact["id"]]}).get_json()
    assert joined["changed"] == 1 and joined["contact_list"]["sendable"] == 1
    patched = client.patch(f"/api/v1/contacts/{contact['id']}", headers=api,
                           json={"unsubscribed": True, "job_title": "CFO"}).get_json()
    assert patched["status"] == "unsubscribed" and not patched["can_email"]
    assert patched["job_title"] == "CFO" and len(patched["list_ids"]) == 2
    assert client.patch(f"/api/v1/contacts/{contact['id']}", headers=api,
                        json={"unsubscribed": False}).status_code == 409
    left = client.post(f"/api/v1/contact-lists/{vip}/members/remove", headers=api,
                       json={"contact_ids": [contact["id"]]}).get_json()
    assert left["changed"] == 1 and left["contact_list"]["members"] == 0
    assert client.get("/api/v1/contacts", headers={
        "Authorization": f"Bearer {vendor}"}).status_code == 403
    assert client.delete(f"/api/v1/contacts/{contact['id']}?forget=true",
                         headers=api).status_code == 204
    with app.app_context():
        assert suppression.global_reason("api@example.com") is SuppressionReason.ERASED

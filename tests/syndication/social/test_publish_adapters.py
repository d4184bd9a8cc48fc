"""Publishing through each network's adapter, over real HTTP, against the network fakes.

Each test sends what a partner's post would send and checks both sides: the request the
network received (the shape its documentation gives) and what the adapter made of the
answer, including the network's bad days: rate limits, outages, lost answers, revoked
tokens, duplicates and images it refuses.
"""

from __future__ import annotations

import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from PIL import Image

from syndication.social import networks
from syndication.social.fakes import FakeNetwork
from syndication.social.media import fit
from syndication.social.models import AccountKind, Network
from syndication.social.networks import (
    NetworkError,
    OutcomeUnknown,
    PostContent,
    PostRejected,
    RateLimited,
    Target,
    TokenRejected,
)

LINK = "https://go.vendor.example/p/Ab3_x?utm_medium=social"
TEXT = "Backups (finally) done right: *3x* faster_restores & <no> surprises! #cloud #1"


@dataclass
class Account:
    adapter: Any
    target: Target
    fake: FakeNetwork


@pytest.fixture
def accounts(app, fakes, monkeypatch) -> dict[str, Account]:
    """A connected account on each network; the client waits half a second for answers."""
    monkeypatch.setitem(app.config, "SOCIAL_HTTP_TIMEOUT", 0.5)
    return {
        "linkedin": Account(networks.LinkedIn(app.config), Target(
            AccountKind.PROFILE, fakes.linkedin.member["sub"],
            fakes.linkedin.issue_token_for_tests()), fakes.linkedin),
        "x": Account(networks.X(app.config), Target(
            AccountKind.PROFILE, fakes.x.user["id"], fakes.x.issue_token_for_tests()),
            fakes.x),
        "facebook": Account(networks.Facebook(app.config), Target(
            AccountKind.PAGE, "104857", fakes.facebook.issue_token_for_tests(page="104857")),
            fakes.facebook),
    }


def photo(size=(640, 480), fmt="JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(out, fmt)
    return out.getvalue()


def noise(side: int) -> bytes:
    """A PNG that does not compress: about 3 bytes per pixel."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def sent(fake: FakeNetwork, method: str, path: str):
    """The requests the network received at ``path``."""
    return [r for r in fake.received if r.method == method and r.path == path]


# --- LinkedIn ------------------------------------------------------------------------------


def test_linkedin_text_with_link_is_a_versioned_posts_api_call_with_an_article(accounts):
    account = accounts["linkedin"]
    published = account.adapter.publish(account.target, PostContent(TEXT, link=LINK))

    [request] = sent(account.fake, "POST", "/rest/posts")
    assert request.headers["Linkedin-Version"] == "202411"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Authorization"] == f"Bearer {account.target.access_token}"
    assert request.json == {
        "author": "urn:li:person:782bbtaQ",
        "commentary": r"Backups \(finally\) done right: \*3x\* faster\_restores & \<no\> "
                      r"surprises! #cloud #1",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        "content": {"article": {"source": LINK, "title": "go.vendor.example"}},
    }
    [post] = account.fake.posts
    assert post["text"] == TEXT  # escaped, so LinkedIn did not cut it at the "("
    assert published.external_id == post["id"] and post["id"].startswith("urn:li:share:")
    assert published.url == f"https://www.linkedin.com/feed/update/{post['id']}/"


def test_linkedin_image_is_uploaded_through_the_images_api_for_the_organization(accounts):
    account = accounts["linkedin"]
    page = Target(AccountKind.ORGANIZATION, "2414183", account.target.access_token)
    image = photo()
    content = PostContent("New whitepaper", link=LINK, image=image, image_type="image/jpeg",
                          image_alt="Cover of the whitepaper", link_title="The whitepaper")
    published = account.adapter.publish(page, content)

    [start] = sent(account.fake, "POST", "/rest/images")
    assert start.args == {"action": "initializeUpload"}
    assert start.json == {"initializeUploadRequest": {"owner": "urn:li:organization:2414183"}}
    assert start.headers["Linkedin-Version"] == "202411"
    [upload] = [r for r in account.fake.received if r.method == "PUT"]
    assert upload.data == image and upload.headers["Content-Type"] == "image/jpeg"
    [request] = sent(account.fake, "POST", "/rest/posts")
    [image_urn] = [urn for urn in account.fake.media if urn.startswith("urn:li:image:")]
    assert request.json["author"] == "urn:li:organization:2414183"
    assert request.json["content"] == {"media": {"id": image_urn,
                                                 "altText": "Cover of the whitepaper"}}
    # The image takes the card's place, so the link goes in the text.
    assert account.fake.posts[0]["text"] == f"New whitepaper\n\n{LINK}"
    assert published.external_id == account.fake.posts[0]["id"]


def test_linkedin_refuses_posts_without_its_version_header_or_with_a_wrong_shape(accounts):
    account = accounts["linkedin"]
    auth = {"Authorization": f"Bearer {account.target.access_token}",
            "X-Restli-Protocol-Version": "2.0.0"}
    missing = requests.post(f"{account.fake.url}/rest/posts", json={}, headers=auth, timeout=5)
    assert missing.status_code == 400 and missing.json()["code"] == "VERSION_MISSING"
    wrong = requests.post(f"{account.fake.url}/rest/posts", headers={
        **auth, "LinkedIn-Version": "202411"}, json={"author": "urn:li:person:782bbtaQ",
                                                     "text": "hello"}, timeout=5)
    assert wrong.status_code == 422
    assert "/commentary :: field is required" in wrong.json()["message"]
    assert "/text :: unrecognized field" in wrong.json()["message"]
    assert account.fake.posts == []


def test_linkedin_organization_the_member_does_not_administer_is_forbidden(accounts):
    account = accounts["linkedin"]
    other = Target(AccountKind.ORGANIZATION, "999", account.target.access_token)
    with pytest.raises(PostRejected) as refused:
        account.adapter.publish(other, PostContent("Hello"))
    assert refused.value.reason == "forbidden" and refused.value.permanent
    assert "Check your role" in refused.value.message


# --- X --------------------------------------------------------------------------------------


def test_x_text_carries_the_link_in_a_v2_tweet(accounts):
    account = accounts["x"]
    published = account.adapter.publish(account.target, PostContent(TEXT, link=LINK))

    [request] = sent(account.fake, "POST", "/2/tweets")
    assert request.json == {"text": f"{TEXT}\n\n{LINK}"}
    assert request.headers["Authorization"] == f"Bearer {account.target.access_token}"
    [post] = account.fake.posts
    assert published.external_id == post["id"] and post["id"].isdigit()
    assert published.url == f"https://x.com/i/web/status/{post['id']}"


def test_x_image_is_uploaded_then_attached_by_its_media_id(accounts):
    account = accounts["x"]
    image = photo(fmt="PNG")
    account.adapter.publish(account.target, PostContent(
        f"See {LINK} today", link=LINK, image=image, image_type="image/png",
        image_alt="Chart of restore times"))

    [upload] = sent(account.fake, "POST", "/2/media/upload")
    assert upload.form == {"media_category": "tweet_image", "media_type": "image/png"}
    assert upload.files["media"][1:] == ("image/png", image)
    [media_id] = account.fake.media
    [alt] = sent(account.fake, "POST", "/2/media/metadata")
    assert alt.json == {"id": media_id,
                        "metadata": {"alt_text": {"text": "Chart of restore times"}}}
    [tweet] = sent(account.fake, "POST", "/2/tweets")
    assert tweet.json == {"text": f"See {LINK} today",  # the link was there already
                          "media": {"media_ids": [media_id]}}
    assert account.fake.posts[0]["media"] == [media_id]


def test_x_rate_limit_waits_until_the_window_resets(accounts):
    account = accounts["x"]
    account.fake.rate_limit(1, reset_in=300)
    with pytest.raises(RateLimited) as limited:
        account.adapter.publish(account.target, PostContent("Hello"))
    assert 290 <= limited.value.retry_after <= 300 and not limited.value.permanent
    assert account.fake.posts == []
    account.adapter.publish(account.target, PostContent("Hello"))  # the window has room again
    assert len(account.fake.posts) == 1


# --- Facebook -------------------------------------------------------------------------------


def test_facebook_text_with_link_is_a_feed_post_with_the_page_token(accounts):
    account = accounts["facebook"]
    published = account.adapter.publish(account.target, PostContent(TEXT, link=LINK))

    [request] = sent(account.fake, "POST", "/104857/feed")
    assert request.form == {"message": TEXT, "link": LINK}
    assert request.headers["Authorization"] == f"Bearer {account.target.access_token}"
    [post] = account.fake.posts
    assert published.external_id == post["id"] and post["id"].startswith("104857_")
    assert published.url == f"https://www.facebook.com/{post['id']}"


def test_facebook_image_is_a_photo_post_whose_message_carries_the_link(accounts):
    account = accounts["facebook"]
    image = photo()
    published = account.adapter.publish(account.target, PostContent(
        "Our new office", link=LINK, image=image, image_type="image/jpeg"))

    [request] = sent(account.fake, "POST", "/104857/photos")
    assert request.form == {"message": f"Our new office\n\n{LINK}", "published": "true"}
    assert request.files["source"][1:] == ("image/jpeg", image)
    [post] = account.fake.posts
    assert published.external_id == post["id"] and post["id"].startswith("104857_")


def test_facebook_page_where_the_member_may_not_post_is_forbidden(accounts):
    account = accounts["facebook"]
    fan_club = Target(AccountKind.PAGE, "104859",
                      account.fake.issue_token_for_tests(page="104859"))
    with pytest.raises(PostRejected) as refused:
        account.adapter.publish(fan_club, PostContent("Hello"))
    assert refused.value.reason == "forbidden" and "pages_manage_posts" in refused.value.message


def test_facebook_rate_limit_waits_as_long_as_the_usage_header_says(accounts):
    account = accounts["facebook"]
    account.fake.rate_limit(1, reset_in=600)
    with pytest.raises(RateLimited) as limited:
        account.adapter.publish(account.target, PostContent("Hello"))
    assert limited.value.retry_after == 600  # X-Business-Use-Case-Usage: 10 minutes
    assert account.fake.posts == []


def test_linkedin_rate_limit_without_a_reset_header_waits_a_minute(accounts):
    account = accounts["linkedin"]
    account.fake.rate_limit(1, reset_in=3600)
    with pytest.raises(RateLimited) as limited:
        account.adapter.publish(account.target, PostContent("Hello"))
    assert limited.value.retry_after == 60
    assert account.fake.posts == []


# --- every network --------------------------------------------------------------------------

EVERY = pytest.mark.parametrize("network", ["linkedin", "x", "facebook"])


@EVERY
def test_a_lost_answer_is_unknown_until_the_network_is_asked(accounts, network):
    account = accounts[network]
    since = datetime.now(UTC) - timedelta(minutes=5)
    account.fake.swallow_next()
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown) as unknown:
        account.adapter.publish(account.target, PostContent(TEXT, link=LINK))
    assert time.monotonic() - started < 3 and not unknown.value.permanent

    [post] = account.fake.posts  # it went out, though nobody heard the answer
    found = account.adapter.find_published(account.target, TEXT, since)
    assert found is not None and found.external_id == post["id"]
    assert account.adapter.find_published(account.target, "Another text", since) is None
    assert account.adapter.find_published(
        account.target, TEXT, datetime.now(UTC) + timedelta(minutes=5)) is None


@EVERY
def test_a_published_post_can_be_deleted_and_deleting_it_again_is_harmless(accounts, network):
    account = accounts[network]
    published = account.adapter.publish(account.target, PostContent("Short-lived"))
    account.adapter.delete(account.target, published.external_id)
    assert account.fake.posts == []
    account.adapter.delete(account.target, published.external_id)


@EVERY
def test_an_outage_is_worth_trying_again(accounts, network):
    account = accounts[network]
    account.fake.fail_next(503)
    with pytest.raises(NetworkError) as failed:
        account.adapter.publish(account.target, PostContent("Hello"))
    assert type(failed.value) is NetworkError and not failed.value.permanent
    assert account.fake.posts == []
    account.adapter.publish(account.target, PostContent("Hello"))
    assert len(account.fake.posts) == 1


def test_an_unreachable_network_is_worth_trying_again(app, fakes, monkeypatch):
    monkeypatch.setitem(app.config, "SOCIAL_X_API", "http://127.0.0.1:9")  # nothing listens
    target = Target(AccountKind.PROFILE, "1", fakes.x.issue_token_for_tests())
    with pytest.raises(NetworkError) as failed:
        networks.X(app.config).publish(target, PostContent("Hello"))
    assert type(failed.value) is NetworkError and not failed.value.permanent


@EVERY
def test_a_revoked_token_is_rejected(accounts, network):
    account = accounts[network]
    account.fake.revoke_everything()
    with pytest.raises(TokenRejected):
        account.adapter.publish(account.target, PostContent("Hello"))
    assert account.fake.posts == []


@EVERY
def test_the_same_text_twice_is_refused_as_a_duplicate(accounts, network):
    account = accounts[network]
    account.adapter.publish(account.target, PostContent("Launch day!", link=LINK))
    with pytest.raises(PostRejected) as refused:
        account.adapter.publish(account.target, PostContent("Launch day!", link=LINK))
    assert refused.value.reason == "duplicate" and refused.value.permanent
    assert "Change the text" in refused.value.message
    assert len(account.fake.posts) == 1

    account.fake.advance(25 * 3600)  # a day later the same words may go out again
    fresh = Target(account.target.kind, account.target.external_id,
                   account.fake.issue_token_for_tests(page=account.target.external_id))
    account.adapter.publish(fresh, PostContent("Launch day!", link=LINK))
    assert len(account.fake.posts) == 2


@pytest.mark.parametrize(("network", "side"), [("x", 1400), ("facebook", 1250),
                                               ("linkedin", 1700)])
def test_an_image_over_the_networks_limit_is_refused_until_fitted(accounts, network, side):
    account = accounts[network]
    big = noise(side)
    assert len(big) > account.fake.max_image_bytes
    with pytest.raises(PostRejected) as refused:
        account.adapter.publish(account.target, PostContent(
            "Big picture", image=big, image_type="image/png"))
    assert refused.value.reason == "media" and "JPEG or PNG" in refused.value.message
    assert account.fake.posts == []

    data, mimetype = fit(big, Network(network))
    published = account.adapter.publish(account.target, PostContent(
        "Big picture", image=data, image_type=mimetype))
    [post] = account.fake.posts
    assert published.external_id == post["id"]
    uploaded = [m for m in account.fake.media.values() if m["data"]]
    assert [len(m["data"]) for m in uploaded] == [len(data)]
    assert len(data) <= account.fake.max_image_bytes


@EVERY
def test_a_file_that_is_no_image_is_refused_as_media(accounts, network):
    account = accounts[network]
    with pytest.raises(PostRejected) as refused:
        account.adapter.publish(account.target, PostContent(
            "Broken", image=b"\x89PNG\r\n\x1a\n not really", image_type="image/png"))
    assert refused.value.reason == "media"
    assert account.fake.posts == []


def test_adapter_for_gives_adapters_that_publish(app, fakes, ctx):
    for network in Network:
        adapter = networks.adapter_for(network)
        assert callable(adapter.publish) and callable(adapter.find_published)


def test_a_slow_network_answers_many_posts_at_once(accounts):
    """The benchmark's fake answers after a delay; it must answer 50 posts side by side."""
    account = accounts["x"]
    account.fake.latency = 0.3
    started = time.monotonic()
    with ThreadPoolExecutor(50) as pool:
        published = list(pool.map(lambda n: account.adapter.publish(
            account.target, PostContent(f"Post number {n}")), range(50)))
    assert time.monotonic() - started < 50 * 0.3 / 5  # in parallel, not one after another
    assert len({p.external_id for p in published}) == 50 == len(account.fake.posts)


def test_linkedin_without_leave_to_list_member_posts_cannot_confirm_a_lost_post(accounts):
    account = accounts["linkedin"]
    account.fake.lists_member_posts = False  # the app lacks the restricted r_member_social
    with pytest.raises(NetworkError) as failed:
        account.adapter.find_published(account.target, "Hello", datetime.now(UTC))
    assert failed.value.permanent and not isinstance(failed.value, PostRejected)
    assert "cannot be checked" in failed.value.message

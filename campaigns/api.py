"""API routes for campaign kits and launches: the vendor's authoring, the partner's
catalogue, and launches (partners run their own; vendor staff read them all).

Routes join ``/api/v1`` through ``tcma.api.endpoint`` (so they are in the OpenAPI document),
parse input and call ``campaigns.kits`` / ``campaigns.content`` / ``campaigns.launches``; the
rules live there.
"""

from __future__ import annotations

from flask import Response, current_app, g, request

from campaigns import content, kits, launches, posts
from campaigns.api_schemas import (
    CatalogueKitOut,
    EmailsIn,
    KitDetail,
    KitIn,
    KitOut,
    KitPatch,
    KitVersionOut,
    KitVersionSummary,
    LaunchBlockedProblem,
    LaunchIn,
    LaunchOut,
    LaunchProblemsOut,
    LaunchSummary,
    PostOut,
    PostPreviewNetwork,
    PostPreviewOut,
    PostsIn,
    ReferencesIn,
    StepsIn,
)
from campaigns.launches import LaunchBlocked
from campaigns.models import KitStatus, KitVersion
from campaigns.posts import PostIn
from tcma.api import endpoint
from tcma.api.responses import int_arg, json_body
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners import service as partners

PREVIEW_QUERY = {"partner": "A partner id; leave out for the sample partner with long values",
                 "version": "A published version number; leave out for the draft (or newest)"}


def _choices() -> dict[str, list[str]]:
    cfg = current_app.config
    return {"tiers": list(cfg["PARTNER_TIERS"]), "regions": list(cfg["PARTNER_REGIONS"]),
            "types": list(cfg["PARTNER_TYPES"])}


def _html(document: str):
    response = current_app.response_class(document, mimetype="text/html")
    # the email is shown inside a sandboxed iframe; as a page of its own it runs nothing
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src * data:"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@endpoint("/kits", "GET", summary="Campaign kits, newest change first", tag="kits",
          permission="kits.view", response=list[KitOut],
          query={"q": "Search in names", "status": "draft | published | retired"})
def list_kits():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in KitStatus}:
        raise ValidationFailed([FieldError("status", "Use draft, published or retired.")])
    found = kits.list_kits(search=request.args.get("q") or None,
                           status=KitStatus(status) if status else None)
    return json_body([KitOut.of(k) for k in found])


@endpoint("/kits", "POST", summary="Create a draft kit", tag="kits", permission="kits.manage",
          body=KitIn, response=KitDetail, status=201)
def create_kit(body: KitIn):
    kit = kits.create_kit(body.model_dump(), by=g.user, **_choices())
    db.session.commit()
    return json_body(KitDetail.of(kit), 201)


@endpoint("/kits/<kit_id>", "GET", summary="One kit: details, draft, problems and versions",
          tag="kits", permission="kits.view", response=KitDetail)
def get_kit(kit_id: str):
    return json_body(KitDetail.of(kits.get_kit(kit_id)))


@endpoint("/kits/<kit_id>", "PATCH", summary="Change a kit's details and audience", tag="kits",
          permission="kits.manage", body=KitPatch, response=KitDetail)
def update_kit(kit_id: str, body: KitPatch):
    kit = kits.get_kit(kit_id)
    current = {name: getattr(kit, name) for name in kits.KIT_FIELDS}
    kits.update_kit(kit, {**current, **body.model_dump(exclude_unset=True)}, by=g.user,
                    **_choices())
    db.session.commit()
    return json_body(KitDetail.of(kit))


@endpoint("/kits/<kit_id>/emails", "PUT", summary="Replace the draft's emails", tag="kits",
          permission="kits.manage", body=EmailsIn, response=KitDetail)
def put_kit_emails(kit_id: str, body: EmailsIn):
    """Token and MJML problems do not stop the save; they are listed in ``problems`` with
    field and line, and block publishing."""
    kit = kits.get_kit(kit_id)
    content.put_emails(kit, [e.model_dump() for e in body.emails], by=g.user)
    db.session.commit()
    return json_body(KitDetail.of(kit))


@endpoint("/kits/<kit_id>/posts", "PUT", summary="Replace the draft's social posts", tag="kits",
          permission="kits.manage", body=PostsIn, response=KitDetail)
def put_kit_posts(kit_id: str, body: PostsIn):
    """Token and length problems do not stop the save; they are listed in ``problems`` and
    block publishing. A key an email uses, or an image that is not in the library, is
    refused."""
    kit = kits.get_kit(kit_id)
    content.put_posts(kit, [p.model_dump() for p in body.posts], by=g.user)
    db.session.commit()
    return json_body(KitDetail.of(kit))


@endpoint("/kits/<kit_id>/posts", "GET",
          summary="The social posts of the draft (or a version), with lengths and problems",
          tag="kits", permission="kits.view", response=list[PostOut],
          query={"version": PREVIEW_QUERY["version"]})
def list_kit_posts(kit_id: str):
    version = _version_arg(kits.get_kit(kit_id))
    longest = posts.longest_sources()
    return json_body([PostOut.of(p, n, longest) for n, p in enumerate(posts.posts_of(version))])


@endpoint("/kits/<kit_id>/posts/<post_key>", "GET", summary="One social post of the draft "
          "(or a version), with lengths and problems", tag="kits", permission="kits.view",
          response=PostOut, query={"version": PREVIEW_QUERY["version"]})
def get_kit_post(kit_id: str, post_key: str):
    version = _version_arg(kits.get_kit(kit_id))
    post = posts.post_of(version, post_key)
    return json_body(PostOut.of(post, posts.posts_of(version).index(post),
                                posts.longest_sources()))


@endpoint("/kits/<kit_id>/posts/<post_key>", "PUT",
          summary="Add a social post to the draft, or replace it", tag="kits",
          permission="kits.manage", body=PostIn, response=PostOut)
def put_kit_post(kit_id: str, post_key: str, body: PostIn):
    """Replacing may rename the post (a different ``key`` in the body); a new post's
    ``key`` must be the one in the address."""
    kit = kits.get_kit(kit_id)
    exists = any(p["key"] == post_key for p in posts.posts_of(kits.editing_version(kit)))
    if not exists and body.key != post_key:
        raise ValidationFailed([FieldError("key", f"Use the key in the address, {post_key!r}, "
                                                  "for a new post.")])
    version = content.put_post(kit, body.model_dump(), by=g.user,
                               replace=post_key if exists else None)
    db.session.commit()
    post = posts.post_of(version, body.key)
    return json_body(PostOut.of(post, posts.posts_of(version).index(post),
                                posts.longest_sources()))


@endpoint("/kits/<kit_id>/posts/<post_key>", "DELETE", summary="Take a social post out of "
          "the draft", tag="kits", permission="kits.manage", status=204)
def delete_kit_post(kit_id: str, post_key: str):
    content.remove_post(kits.get_kit(kit_id), post_key, by=g.user)
    db.session.commit()
    return "", 204


@endpoint("/kits/<kit_id>/posts/<post_key>/preview", "GET",
          summary="A social post per network, as a partner (or the sample partner) would "
                  "publish it", tag="kits", permission="kits.view", response=PostPreviewOut,
          query=PREVIEW_QUERY, errors={422: "The post has token problems, or no such partner."})
def preview_kit_post(kit_id: str, post_key: str):
    kit = kits.get_kit(kit_id)
    shown = content.preview_post(_version_arg(kit), post_key, _preview_partner())
    return json_body(PostPreviewOut(key=post_key, networks=[
        PostPreviewNetwork(network=network, text=r.text, link=r.link,
                           image_asset_id=r.image_asset_id,
                           length=posts.weighted_length(network, r.text),
                           limit=posts.LIMITS[network])
        for network, r in shown.items()]))


@endpoint("/kits/<kit_id>/steps", "PUT", summary="Replace the draft's schedule", tag="kits",
          permission="kits.manage", body=StepsIn, response=KitDetail)
def put_kit_steps(kit_id: str, body: StepsIn):
    kit = kits.get_kit(kit_id)
    content.put_steps(kit, [s.model_dump() for s in body.steps], by=g.user)
    db.session.commit()
    return json_body(KitDetail.of(kit))


@endpoint("/kits/<kit_id>/references", "PUT",
          summary="Set the draft's landing page and assets", tag="kits",
          permission="kits.manage", body=ReferencesIn, response=KitDetail)
def put_kit_references(kit_id: str, body: ReferencesIn):
    kit = kits.get_kit(kit_id)
    content.set_references(kit, landing_page_id=body.landing_page_id, asset_ids=body.asset_ids,
                           by=g.user)
    db.session.commit()
    return json_body(KitDetail.of(kit))


@endpoint("/kits/<kit_id>/publish", "POST",
          summary="Freeze the draft as the next version and show it to its audience",
          tag="kits", permission="kits.manage", response=KitVersionOut, status=201,
          errors={422: "The draft has problems; each error names the field and line."})
def publish_kit(kit_id: str):
    kit = kits.get_kit(kit_id)
    version = kits.publish(kit, by=g.user)
    db.session.commit()
    return json_body(KitVersionOut.of(version), 201)


@endpoint("/kits/<kit_id>/retire", "POST", summary="Retire a kit: no new launches",
          tag="kits", permission="kits.manage", response=KitDetail)
def retire_kit(kit_id: str):
    kit = kits.get_kit(kit_id)
    kits.retire(kit, by=g.user)
    db.session.commit()
    return json_body(KitDetail.of(kit))


@endpoint("/kits/<kit_id>/versions", "GET", summary="A kit's published versions",
          tag="kits", permission="kits.view", response=list[KitVersionSummary])
def list_kit_versions(kit_id: str):
    kit = kits.get_kit(kit_id)
    return json_body([KitVersionSummary(number=v.number or 0, published_at=v.published_at)
                      for v in kits.published_versions(kit)])


@endpoint("/kits/<kit_id>/versions/<int:number>", "GET",
          summary="One published version, exactly as it was frozen", tag="kits",
          permission="kits.view", response=KitVersionOut)
def get_kit_version(kit_id: str, number: int):
    return json_body(KitVersionOut.of(kits.get_version(kits.get_kit(kit_id), number)))


def _version_arg(kit) -> KitVersion:
    errors: list[FieldError] = []
    number = int_arg("version", None, 1, None, errors)
    if errors:
        raise ValidationFailed(errors)
    return kits.get_version(kit, number) if number else kits.editing_version(kit)


@endpoint("/kits/<kit_id>/emails/<email_key>/preview", "GET",
          summary="An email as HTML, as a partner (or the sample partner) would send it",
          tag="kits", permission="kits.view", binary="text/html", query=PREVIEW_QUERY,
          errors={422: "The email has problems, or no such partner."})
def preview_kit_email(kit_id: str, email_key: str):
    kit = kits.get_kit(kit_id)
    return _html(content.preview(_version_arg(kit), email_key, _preview_partner()).html)


def _preview_partner():
    if not request.args.get("partner"):
        return None
    try:
        return partners.get_partner(request.args["partner"])
    except NotFound as exc:
        raise ValidationFailed([FieldError("partner", "No such partner.")]) from exc


# --- partner ---------------------------------------------------------------------------------


@endpoint("/catalogue/kits", "GET", summary="The kits my partner may launch now",
          tag="catalogue", permission="kits.browse", response=list[CatalogueKitOut])
def list_catalogue_kits():
    return json_body([CatalogueKitOut.of(k) for k in kits.catalogue(g.user.partner)])


@endpoint("/catalogue/kits/<kit_id>/emails/<email_key>/preview", "GET",
          summary="An email of a catalogue kit as HTML, with my brand", tag="catalogue",
          permission="kits.browse", binary="text/html")
def preview_catalogue_email(kit_id: str, email_key: str):
    kit = kits.catalogue_kit(g.user.partner, kit_id)
    version = kits.latest_published(kit)
    assert version is not None
    return _html(content.preview(version, email_key, g.user.partner).html)


@endpoint("/catalogue/kits/<kit_id>/launch-problems", "GET",
          summary="What stands between me and launching a catalogue kit", tag="catalogue",
          permission="kits.browse", response=LaunchProblemsOut,
          query={"list_id": "Check with this contact list; leave out for “All contacts”"})
def get_launch_problems(kit_id: str):
    kit = kits.catalogue_kit(g.user.partner, kit_id)
    options = {"list_id": request.args["list_id"]} if request.args.get("list_id") else {}
    return json_body(LaunchProblemsOut(
        problems=launches.launch_problems(g.user.partner, kit, options)))


# --- launches --------------------------------------------------------------------------------

BLOCKED = "The launch cannot go out yet: `problems` lists what to fix first."


@endpoint("/launches", "GET", summary="Launches, newest first (a partner sees its own)",
          tag="launches", permission="launches.view", response=list[LaunchSummary],
          query={"kit_id": "Only launches of this kit"})
def list_launches():
    kit = None
    if request.args.get("kit_id"):
        try:
            kit = kits.get_kit(request.args["kit_id"])
        except NotFound as exc:
            raise ValidationFailed([FieldError("kit_id", "No such kit.")]) from exc
    found = launches.list_launches(g.user.partner, kit=kit)
    shown = launches.progress_many(found)
    return json_body([LaunchSummary.of(shown[launch.id]) for launch in found])


@endpoint("/launches", "POST", summary="Launch a kit of my catalogue", tag="launches",
          permission="launches.run", body=LaunchIn, response=LaunchOut, status=201,
          errors={409: BLOCKED}, problems={409: LaunchBlockedProblem})
def create_launch(body: LaunchIn):
    """With only ``kit_id``, the one-click launch: every subscribed contact of “All
    contacts”, starting now. The first step's batches are queued when this answers."""
    partner = g.user.partner
    try:
        kit = kits.catalogue_kit(partner, body.kit_id)
    except NotFound as exc:
        raise ValidationFailed([FieldError("kit_id", "No such kit in your catalogue.")]) from exc
    try:
        options: dict = {"list_id": body.list_id} if body.list_id else {}
        if body.social_account_ids is not None:
            options["social_account_ids"] = body.social_account_ids
        launch = launches.launch_kit(partner, kit, start_at=body.start_at, options=options,
                                     blocks=body.blocks, by=g.user,
                                     only_kinds=set(body.channels) if body.channels else None)
    except LaunchBlocked as exc:
        db.session.rollback()
        return _blocked(exc)
    db.session.commit()
    return json_body(LaunchOut.of(launches.progress(launch)), 201)


def _blocked(exc: LaunchBlocked) -> Response:
    body = LaunchBlockedProblem(title=exc.title, status=exc.status, detail=exc.message,
                                problems=exc.problems)
    return current_app.response_class(body.model_dump_json(), status=exc.status,
                                      mimetype="application/problem+json")


@endpoint("/launches/<launch_id>", "GET", summary="One launch: status, options and each "
          "step's counts", tag="launches", permission="launches.view", response=LaunchOut)
def get_launch(launch_id: str):
    return json_body(LaunchOut.of(launches.progress(launches.get_launch(launch_id))))


@endpoint("/launches/<launch_id>/pause", "POST", summary="Pause a launch: nothing more goes "
          "out until it is resumed", tag="launches", permission="launches.run",
          response=LaunchOut)
def pause_launch(launch_id: str):
    return _control(launch_id, launches.pause)


@endpoint("/launches/<launch_id>/resume", "POST", summary="Resume a paused launch; steps that "
          "came due meanwhile go out now", tag="launches", permission="launches.run",
          response=LaunchOut)
def resume_launch(launch_id: str):
    return _control(launch_id, launches.resume)


@endpoint("/launches/<launch_id>/cancel", "POST", summary="Cancel a launch for good: unsent "
          "messages never go out", tag="launches", permission="launches.run",
          response=LaunchOut)
def cancel_launch(launch_id: str):
    return _control(launch_id, launches.cancel)


def _control(launch_id: str, action) -> Response:
    """Move a launch through its state machine; an illegal move is a 409 problem."""
    launch = launches.get_launch(launch_id)
    action(launch, by=g.user)
    db.session.commit()
    return json_body(LaunchOut.of(launches.progress(launch)))

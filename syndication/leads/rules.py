"""The channel manager's routing rules: create, change, reorder, delete, and which partners
each rule can offer leads to.

Rules are vendor-only rows; the pages and the API ask for ``leads.route`` before they get
here. Services flush, the caller commits.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import false, func, select, update

from syndication.leads import regions
from syndication.leads.routing_models import RoutingRule, RoutingStrategy
from syndication.leads.routing_schemas import RoutingRuleIn, RoutingRuleOut
from tcma import audit
from tcma.auth.models import User
from tcma.errors import FieldError, NotFound, ValidationFailed
from tcma.extensions import db
from tcma.partners.models import Partner, PartnerStatus
from tcma.partners.service import choices_context

#: The rule's fields as ``RoutingRuleIn`` takes them (the fixed partner as its public id).
RULE_FIELDS = tuple(RoutingRuleIn.model_fields)


def list_rules() -> list[RoutingRule]:
    """Every rule in evaluation order."""
    return list(db.session.execute(
        select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)).scalars())


def get_rule(public_id: str) -> RoutingRule:
    rule = db.session.execute(
        select(RoutingRule).where(RoutingRule.public_id == public_id)).scalar_one_or_none()
    if rule is None:
        raise NotFound("No such routing rule.")
    return rule


def values_of(rule: RoutingRule) -> dict[str, Any]:
    """A rule as ``RoutingRuleIn`` fields (what an edit form starts from)."""
    data = {name: getattr(rule, name) for name in RULE_FIELDS if name != "fixed_partner_id"}
    data["strategy"] = rule.strategy.value
    data["fixed_partner_id"] = rule.fixed_partner.public_id if rule.fixed_partner else None
    return data


def _validated(data: dict[str, Any]) -> tuple[RoutingRuleIn, Partner | None]:
    try:
        fields = RoutingRuleIn.model_validate(data, context=choices_context())
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from exc
    fixed = None
    if fields.strategy is RoutingStrategy.FIXED:
        fixed = db.session.execute(select(Partner).where(
            Partner.public_id == fields.fixed_partner_id)).scalar_one_or_none()
        if fixed is None:
            raise ValidationFailed([FieldError("fixed_partner_id", "No such partner.")])
        if fixed.status is not PartnerStatus.ACTIVE:
            raise ValidationFailed([FieldError("fixed_partner_id",
                                               f"{fixed.name} is {fixed.status.value}.")])
    return fields, fixed


def _apply(rule: RoutingRule, fields: RoutingRuleIn, fixed: Partner | None) -> None:
    for name in RULE_FIELDS:
        if name != "fixed_partner_id":
            setattr(rule, name, getattr(fields, name))
    rule.fixed_partner = fixed
    rule.fixed_partner_id = fixed.id if fixed else None


def create_rule(data: dict[str, Any], *, by: User | None,
                position: int | None = None) -> RoutingRule:
    """A new rule, last in the order unless ``position`` puts it earlier."""
    fields, fixed = _validated(data)
    count = db.session.execute(select(func.count()).select_from(RoutingRule)).scalar_one()
    rule = RoutingRule(position=count + 1, created_by_id=by.id if by else None, offers_made=0)
    _apply(rule, fields, fixed)
    db.session.add(rule)
    db.session.flush()
    if position is not None:
        move_rule(rule, position)
    audit.record("routing_rule.created", target=rule, actor=by,
                 after=fields.model_dump(mode="json"))
    return rule


def update_rule(rule: RoutingRule, changes: dict[str, Any], *, by: User | None) -> RoutingRule:
    """Change some fields (the others stay); ``position`` in ``changes`` moves the rule."""
    position = changes.pop("position", None)
    before = values_of(rule)
    fields, fixed = _validated({**before, **changes})
    _apply(rule, fields, fixed)
    db.session.flush()
    if position is not None:
        move_rule(rule, int(position))
    audit.record("routing_rule.updated", target=rule, actor=by, before=before,
                 after=fields.model_dump(mode="json"))
    return rule


def move_rule(rule: RoutingRule, position: int) -> None:
    """Put the rule at ``position`` (1 first; past the end means last), the others closing
    up around it."""
    rules = [r for r in list_rules() if r.id != rule.id]
    index = max(0, min(position - 1, len(rules)))
    rules.insert(index, rule)
    _renumber(rules)


def _renumber(rules: list[RoutingRule]) -> None:
    for number, r in enumerate(rules, start=1):
        if r.position != number:
            r.position = number
    db.session.flush()


def delete_rule(rule: RoutingRule, *, by: User | None) -> None:
    """Remove a rule. Leads it offered keep their history; a pending offer still runs to its
    end, after which the remaining rules decide."""
    audit.record("routing_rule.deleted", target=rule, actor=by, before=values_of(rule))
    db.session.delete(rule)
    db.session.flush()
    _renumber(list_rules())


# --- which partners a rule can offer a lead to ------------------------------------------------


def eligible_query(rule: RoutingRule, *, lead_region: str | None = None,
                   use_lead_region: bool = False):
    """Active partners the rule may offer to, by id (round robin's order). With
    ``use_lead_region`` and the rule's "same region", only the lead's region's partners."""
    query = select(Partner).where(Partner.status == PartnerStatus.ACTIVE)
    if rule.strategy is RoutingStrategy.FIXED:
        return query.where(Partner.id == rule.fixed_partner_id).order_by(Partner.id)
    if rule.partner_tiers:
        query = query.where(Partner.tier.in_(rule.partner_tiers))
    if rule.partner_regions:
        query = query.where(Partner.region.in_(rule.partner_regions))
    if rule.partner_types:
        query = query.where(Partner.type.in_(rule.partner_types))
    if rule.partner_languages:
        # Partner languages are "xx" or "xx-YY": compare primary subtags (pt matches pt-BR).
        query = query.where(func.lower(func.substr(Partner.language, 1, 2)).in_(
            sorted({regions.primary(lang) for lang in rule.partner_languages})))
    if use_lead_region and rule.same_region:
        query = query.where(Partner.region == lead_region if lead_region else false())
    return query.order_by(Partner.id)


def eligible_partners(rule: RoutingRule, **kw) -> list[Partner]:
    return list(db.session.execute(eligible_query(rule, **kw)).scalars())


def eligible_counts(rules: list[RoutingRule]) -> dict[int, int]:
    """Each rule's count of active eligible partners now (the rules list shows it live)."""
    return {rule.id: db.session.execute(select(func.count()).select_from(
        eligible_query(rule).order_by(None).subquery())).scalar_one() for rule in rules}


def rule_out(rule: RoutingRule, eligible: int) -> RoutingRuleOut:
    return RoutingRuleOut(
        id=rule.public_id, name=rule.name, position=rule.position, enabled=rule.enabled,
        countries=rule.countries, regions=rule.regions, languages=rule.languages,
        partner_tiers=rule.partner_tiers, partner_regions=rule.partner_regions,
        partner_languages=rule.partner_languages, partner_types=rule.partner_types,
        same_region=rule.same_region, strategy=rule.strategy,
        fixed_partner_id=rule.fixed_partner.public_id if rule.fixed_partner else None,
        fixed_partner_name=rule.fixed_partner.name if rule.fixed_partner else None,
        window_hours=rule.window_hours, eligible_partners=eligible,
        offers_made=rule.offers_made, created_at=rule.created_at, updated_at=rule.updated_at)


def touch(rule_id: int, now) -> bool:
    """Write the rule's row first thing when it routes a lead: the row lock (PostgreSQL) or
    write lock (SQLite) that makes concurrent routings by one rule take turns. False when the
    rule is gone."""
    result = db.session.execute(
        update(RoutingRule).where(RoutingRule.id == rule_id).values(used_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1

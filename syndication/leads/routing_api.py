"""API routes for routing rules and the vendor's lead import (vendor staff with
``leads.route``; partner tokens get 404)."""

from __future__ import annotations

from flask import g, request

from syndication.leads import importer, rules
from syndication.leads.routing_schemas import (
    LeadImportIn,
    LeadImportResult,
    RoutingRuleIn,
    RoutingRuleOut,
    RoutingRulePatch,
)
from tcma.api import endpoint
from tcma.api.responses import json_body
from tcma.extensions import db


def _out(rule) -> RoutingRuleOut:
    return rules.rule_out(rule, rules.eligible_counts([rule])[rule.id])


@endpoint("/routing-rules", "GET", summary="Lead routing rules, in evaluation order",
          tag="routing", permission="leads.route", response=list[RoutingRuleOut])
def list_routing_rules():
    found = rules.list_rules()
    counts = rules.eligible_counts(found)
    return json_body([rules.rule_out(rule, counts[rule.id]) for rule in found])


@endpoint("/routing-rules", "POST", summary="Add a routing rule (last, unless placed)",
          tag="routing", permission="leads.route", body=RoutingRuleIn, response=RoutingRuleOut,
          status=201, query={"position": "Place the rule here (1 is evaluated first)"})
def create_routing_rule(body: RoutingRuleIn):
    position = request.args.get("position", type=int)
    rule = rules.create_rule(body.model_dump(mode="json"), by=g.user, position=position)
    db.session.commit()
    return json_body(_out(rule), 201)


@endpoint("/routing-rules/<routing_rule_id>", "GET", summary="One routing rule",
          tag="routing", permission="leads.route", response=RoutingRuleOut)
def get_routing_rule(routing_rule_id: str):
    return json_body(_out(rules.get_rule(routing_rule_id)))


@endpoint("/routing-rules/<routing_rule_id>", "PATCH",
          summary="Change a routing rule, or move it with 'position'", tag="routing",
          permission="leads.route", body=RoutingRulePatch, response=RoutingRuleOut)
def update_routing_rule(routing_rule_id: str, body: RoutingRulePatch):
    rule = rules.get_rule(routing_rule_id)
    rules.update_rule(rule, body.model_dump(mode="json", exclude_unset=True), by=g.user)
    db.session.commit()
    return json_body(_out(rule))


@endpoint("/routing-rules/<routing_rule_id>", "DELETE", summary="Delete a routing rule",
          tag="routing", permission="leads.route", status=204)
def delete_routing_rule(routing_rule_id: str):
    """Offers the rule made run to their end; then the remaining rules decide."""
    rules.delete_rule(rules.get_rule(routing_rule_id), by=g.user)
    db.session.commit()
    return "", 204


@endpoint("/leads/import", "POST", summary="Import the vendor's own leads (all or none)",
          tag="leads", permission="leads.route", body=LeadImportIn, response=LeadImportResult,
          status=201, also_status=(200,),
          query={"dry_run": "1 to check the items without importing (answers 200)"})
def import_leads(body: LeadImportIn):
    """Up to 1,000 leads. Any invalid item imports nothing: the 422 names every
    ``items[i].field`` to fix. An ``external_id`` sent before updates that lead. Items with
    a ``partner_id`` go to that partner directly; the others are routed by the rules."""
    dry_run = request.args.get("dry_run") == "1"
    outcome = importer.import_leads(body.items, by=g.user, dry_run=dry_run)
    if outcome.imported:
        db.session.commit()
    else:
        db.session.rollback()
    return json_body(LeadImportResult(
        imported=outcome.imported, created=outcome.created, updated=outcome.updated,
        assigned=outcome.assigned, routed=outcome.routed, leads=outcome.leads),
        201 if outcome.imported else 200)

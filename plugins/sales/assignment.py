"""Assignment rules: who gets a new lead.

The company's active rules are read in their order (``position``); the first whose
conditions the lead meets decides. A rule gives the lead to one rep (``user_id``), or in turn
to the members of a team (``team_id``): round robin over the members ordered by id, starting
after the one who got the previous lead (``last_user_id``). Members who are no longer active
members of the company are left out. A rule with a ``cap`` skips reps who already hold that
many open leads and accounts (:func:`plugins.sales.holdings.holdings`); when every rep is at
the cap, or no rule matches, the lead stays unowned and, for a team rule, is put in the team
(``team_id``), where the customer pool finds it.

Every assignment writes a line in the lead's history naming the rule (the owner change is
recorded by the audit trail itself) and emits ``sales.lead.assigned`` (payload ``id``,
``owner_id``, ``rule_id``), one per lead in the bulk variant too, written with one statement
(:func:`core.events.emit_many`) so that an import of thousands of leads stays a few queries.

Concurrency: two leads created at the same moment must not both go to the same rep. The
rule's row is read again *locked* (``SELECT ... FOR UPDATE``) before the rotation moves on:
on PostgreSQL the second transaction waits there until the first commits and then reads the
advanced ``last_user_id`` (and, counting holdings after the lock, the first one's lead). On
SQLite the clause is left out by the dialect; there the database has one writer at a time,
and the lead's INSERT (flushed before the rules run) already holds that lock. An
``UPDATE ... RETURNING`` would not do: the next rep depends on the caps, computed here.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.audit import log_actions
from core.events import emit, emit_many
from core.models import Membership, Team, TeamMember, User
from plugins.sales.holdings import holdings
from plugins.sales.models import AssignmentRule, Lead
from plugins.sales.services import move_in_order

CONDITIONS = ("region", "industry", "source")


@dataclass(frozen=True)
class Decision:
    """What the rules decide for one lead: the ``rule`` that matched (``None``: none did), the
    rep who gets it (``owner_id``, ``None`` when every rep is at the cap), the team it joins,
    and whether it stayed unowned because of the cap (``capped``)."""

    rule: AssignmentRule | None
    owner_id: int | None = None
    team_id: int | None = None
    capped: bool = False


# -- matching -----------------------------------------------------------------------------------------


def condition_values(text: str | None) -> frozenset[str]:
    """The values of a condition as typed ("Europe, Asia"): trimmed, lower-cased, no empties."""
    return frozenset(part.strip().casefold() for part in (text or "").split(",") if part.strip())


def rule_matches(rule: AssignmentRule, region: str | None, industry: str | None, source: str | None) -> bool:
    """Whether a lead from ``region``/``industry``/``source`` meets every condition of ``rule``
    (an empty condition meets anything; otherwise the lead's value must be one of its values)."""
    given = {"region": region, "industry": industry, "source": source}
    for name in CONDITIONS:
        wanted = condition_values(getattr(rule, name))
        if wanted and (given[name] or "").strip().casefold() not in wanted:
            return False
    return True


def active_rules(session: Session) -> list[AssignmentRule]:
    """The company's active rules in the order they are tried."""
    return list(session.scalars(select(AssignmentRule).where(AssignmentRule.active.is_(True))
                                .order_by(AssignmentRule.position, AssignmentRule.id)))


def has_active_rules(session: Session) -> bool:
    """Whether any rule would be tried (the lead form offers "Assign automatically" then)."""
    return session.scalar(select(AssignmentRule.id).where(AssignmentRule.active.is_(True)).limit(1)) is not None


def first_match(rules: Sequence[AssignmentRule], region: str | None, industry: str | None,
                source: str | None) -> AssignmentRule | None:
    return next((rule for rule in rules if rule_matches(rule, region, industry, source)), None)


# -- who may get leads ----------------------------------------------------------------------------------


def team_members(session: Session, company_id: int, team_ids: Iterable[int]) -> dict[int, list[int]]:
    """The members of each team of ``team_ids`` who are active members of the company, by
    user id (a team without any is missing). One query."""
    wanted = {int(team_id) for team_id in team_ids}
    members: dict[int, list[int]] = {}
    if wanted:
        rows = session.execute(
            select(TeamMember.team_id, TeamMember.user_id)
            .join(Team, Team.id == TeamMember.team_id)  # scoped: the company's teams only
            .join(User, User.id == TeamMember.user_id)
            .join(Membership, (Membership.user_id == TeamMember.user_id) & (Membership.company_id == company_id))
            .where(TeamMember.team_id.in_(wanted), User.active.is_(True))
            .order_by(TeamMember.team_id, TeamMember.user_id))
        for team_id, user_id in rows:
            members.setdefault(team_id, []).append(user_id)
    return members


def candidates(session: Session, company_id: int, rules: Iterable[AssignmentRule]) -> dict[int, list[int]]:
    """The reps each rule may give leads to, by rule id, ordered by user id: the team's
    members, or the rule's rep, who are active members of the company. Two queries at most."""
    rules = list(rules)
    members = team_members(session, company_id, {rule.team_id for rule in rules if rule.team_id is not None})
    user_ids = {rule.user_id for rule in rules if rule.team_id is None and rule.user_id is not None}
    reps: set[int] = set()
    if user_ids:
        reps = set(session.scalars(
            select(User.id).join(Membership, (Membership.user_id == User.id) & (Membership.company_id == company_id))
            .where(User.id.in_(user_ids), User.active.is_(True))))
    return {rule.id: (members.get(rule.team_id, []) if rule.team_id is not None
                      else [rule.user_id] if rule.user_id in reps else [])
            for rule in rules}


def next_rep(reps: Sequence[int], last_user_id: int | None, load: dict[int, int], cap: int | None) -> int | None:
    """The rep after ``last_user_id`` in ``reps`` (ordered by id, wrapping around) whose
    ``load`` is under ``cap``; ``None`` when all are at it (or there is nobody)."""
    if not reps:
        return None
    start = bisect_right(reps, last_user_id) if last_user_id is not None else 0
    for step in range(len(reps)):
        rep = reps[(start + step) % len(reps)]
        if cap is None or load.get(rep, 0) < cap:
            return rep
    return None


def _loads(session: Session, rules: Iterable[AssignmentRule], reps: dict[int, list[int]]) -> dict[int, int]:
    """Open leads plus accounts per rep of the capped rules (nothing to count without a cap)."""
    wanted = {rep for rule in rules if rule.cap is not None for rep in reps.get(rule.id, [])}
    return {rep: leads + accounts for rep, (leads, accounts) in holdings(session, wanted).items()} if wanted else {}


# -- deciding and applying ---------------------------------------------------------------------------------


def _decide(rules_for: Sequence[AssignmentRule | None], reps: dict[int, list[int]], last: dict[int, int | None],
            load: dict[int, int]) -> list[Decision]:
    """The decision for each lead in turn (``rules_for``: the rule each matched), moving the
    rotation (``last``) and the reps' load in memory as leads are given out."""
    decisions = []
    for rule in rules_for:
        if rule is None:
            decisions.append(Decision(None))
            continue
        rep = next_rep(reps.get(rule.id, []), last.get(rule.id), load, rule.cap)
        if rep is not None:
            last[rule.id] = rep
            load[rep] = load.get(rep, 0) + 1
        decisions.append(Decision(rule, rep, rule.team_id, capped=rep is None))
    return decisions


def preview(session: Session, company_id: int, region: str, industry: str, source: str) -> Decision:
    """What the rules would decide for a lead from ``region``/``industry``/``source``, without
    changing anything (the rotation does not move): the "Test a lead" form."""
    rule = first_match(active_rules(session), region, industry, source)
    if rule is None:
        return Decision(None)
    reps = candidates(session, company_id, [rule])
    return _decide([rule], reps, {rule.id: rule.last_user_id}, _loads(session, [rule], reps))[0]


def _apply(session: Session, leads: Sequence[Lead]) -> list[Decision]:
    """Decide for ``leads`` and set their owner and team: a bounded number of queries
    whatever their number (rules, reps, locked rotation state, holdings, one state update,
    the leads' update and their history lines)."""
    if not leads:
        return []
    session.flush()  # the leads have ids (and, on SQLite, the transaction holds the write lock)
    rules = active_rules(session)
    rules_for = [first_match(rules, lead.region, lead.industry, lead.source) for lead in leads]
    used = {rule.id: rule for rule in rules_for if rule is not None}
    if not used:
        return [Decision(None) for _lead in leads]
    # Locked in id order, so that two bulk runs never wait for each other crosswise.
    last = dict(session.execute(select(AssignmentRule.id, AssignmentRule.last_user_id)
                                .where(AssignmentRule.id.in_(used)).order_by(AssignmentRule.id)
                                .with_for_update()).all())
    reps = candidates(session, leads[0].company_id, used.values())
    decisions = _decide(rules_for, reps, dict(last), _loads(session, used.values(), reps))
    history = []
    moved: dict[int, int] = {}
    for lead, decision in zip(leads, decisions, strict=True):
        if decision.rule is None:
            continue
        lead.owner_id = decision.owner_id
        if decision.team_id is not None:
            lead.team_id = decision.team_id
        why = {"assignment_rule": [None, decision.rule.name]}
        if decision.capped:
            why["everyone_at_cap"] = [None, True]
        history.append((lead, "update", why))
        if decision.owner_id is not None:
            moved[decision.rule.id] = decision.owner_id
    changed = [{"rule": rule_id, "last": rep} for rule_id, rep in moved.items() if last.get(rule_id) != rep]
    if changed:
        table = AssignmentRule.__table__
        session.execute(update(table).where(table.c.id == bindparam("rule")).values(last_user_id=bindparam("last")),
                        changed)
        for row in changed:
            set_committed_value(used[row["rule"]], "last_user_id", row["last"])
    session.flush()  # the owner changes first in the history, then why
    log_actions(session, history)
    return decisions


def _payload(lead: Lead, decision: Decision) -> dict[str, int | None]:
    return {"id": lead.id, "owner_id": decision.owner_id, "rule_id": decision.rule.id if decision.rule else None}


def assign_lead(session: Session, lead: Lead) -> int | None:
    """Give ``lead`` to whom the first matching active rule says; return the new owner's id
    (``None``: no rule matched, or every rep is at the cap: the lead stays unowned). Emits
    ``sales.lead.assigned`` when a rule matched."""
    decision = _apply(session, [lead])[0]
    if decision.rule is not None:
        emit("sales.lead.assigned", _payload(lead, decision), session=session)
    return decision.owner_id


def assign_leads(session: Session, leads: Sequence[Lead]) -> list[int | None]:
    """:func:`assign_lead` for many leads at once (imports): holdings counted once, the
    rotation worked out in memory, one update of the rules' state, the
    ``sales.lead.assigned`` events written together. Returns each lead's new owner id, in order."""
    leads = list(leads)
    decisions = _apply(session, leads)
    emit_many("sales.lead.assigned", [_payload(lead, decision)
                                      for lead, decision in zip(leads, decisions, strict=True) if decision.rule],
              session=session)
    return [decision.owner_id for decision in decisions]


def assign_unowned(session: Session, lead_ids: Iterable[int]) -> dict[int, int | None]:
    """Run the rules on those of ``lead_ids`` (of the current company, not in the trash) that
    have no owner: the web-to-lead endpoint and the lead import call it after adding leads.
    Returns the new owner id (or ``None``) by lead id, for the leads that were unowned."""
    wanted = {int(lead_id) for lead_id in lead_ids}
    if not wanted:
        return {}
    leads = list(session.scalars(select(Lead).where(Lead.id.in_(wanted), Lead.owner_id.is_(None))
                                 .order_by(Lead.id)))
    return dict(zip((lead.id for lead in leads), assign_leads(session, leads), strict=True))


def reassign_leads(session: Session, leads: Sequence[Lead], owner_id: int) -> None:
    """Give ``leads`` to ``owner_id`` by hand (a manager's "Assign to…"): the audit trail
    records each owner change; a ``sales.lead.assigned`` event each (``rule_id`` null)."""
    moved = [lead for lead in leads if lead.owner_id != owner_id]
    for lead in moved:
        lead.owner_id = owner_id
    session.flush()
    emit_many("sales.lead.assigned", [{"id": lead.id, "owner_id": owner_id, "rule_id": None} for lead in moved],
              session=session)


# -- setting the rules up ------------------------------------------------------------------------------

RULE_FIELDS = ("name", "active", "region", "industry", "source", "team_id", "user_id", "cap")


def _tidy(text: str | None) -> str:
    """A condition as stored: its values trimmed and joined by ", " (empty values dropped)."""
    return ", ".join(part.strip() for part in (text or "").split(",") if part.strip())


def save_rule(session: Session, company_id: int, data: dict, rule: AssignmentRule | None = None) -> AssignmentRule:
    """Add a rule (tried last) or change ``rule`` with validated ``data``; the audit trail
    records the change. Changing the target restarts the rotation."""
    if rule is None:
        last = session.scalar(select(AssignmentRule.position).order_by(AssignmentRule.position.desc()).limit(1))
        rule = AssignmentRule(company_id=company_id, position=0 if last is None else last + 1)
        session.add(rule)
    elif ("team_id" in data or "user_id" in data) and (rule.team_id, rule.user_id) != (
            data.get("team_id"), data.get("user_id")):
        rule.last_user_id = None
    for name in RULE_FIELDS:
        if name in data:
            value = data[name]
            setattr(rule, name, _tidy(value) if name in CONDITIONS else value.strip() if isinstance(value, str)
                    else value)
    session.flush()
    return rule


def move_rule(session: Session, rule: AssignmentRule, offset: int) -> None:
    """Move ``rule`` up (-1) or down (+1) in the order the rules are tried."""
    ordered = session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id))
    move_in_order(session, list(ordered), rule, offset)


def delete_rule(session: Session, rule: AssignmentRule) -> None:
    """Delete ``rule`` for good (the leads it gave out keep their owners and history)."""
    session.delete(rule)
    session.flush()

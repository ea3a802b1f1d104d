"""Moderation: reportContent, moderateContent and the items of Board.moderationQueue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ideaengine import moderation
from ideaengine.errors import DomainError, ErrorCode
from ideaengine.platform.models import Board, ModerationDecision, Report
from schema import relay
from schema.comments import CommentNode
from schema.context import Info
from schema.enums import ModerationAction, ModerationState, ReportReason
from schema.errors import DomainErrors, UserError, query_error
from schema.ideas import IdeaNode
from schema.users import UserNode, load_user

ModerationSubject = Annotated[
    IdeaNode | CommentNode,
    strawberry.union("ModerationSubject", description="What can be reported and moderated: an idea or a comment."),
]


def subject_node(subject: moderation.Subject) -> IdeaNode | CommentNode:
    return IdeaNode(model=subject.idea) if subject.comment is None else CommentNode(model=subject.comment)


def parse_subject(value: str) -> tuple[str, int]:
    """(type, pk) of an Idea or Comment id; anything else is INVALID on subjectId."""
    parsed = relay.parse_id(value)
    if parsed is None or parsed[0] not in ("Idea", "Comment"):
        raise DomainError(ErrorCode.INVALID, "Not a valid Idea or Comment id.", moderation.SUBJECT_FIELD)
    return parsed


@strawberry.type(name="Report", description="One member's report; who reported is never shown.")
class ReportType:
    model: strawberry.Private[Report]

    @strawberry.field
    def reason(self) -> ReportReason:
        return self.model.reason

    @strawberry.field(description="The reporter's words, if any (up to 5,000 characters).")
    def note(self) -> str | None:
        return self.model.note

    @strawberry.field(description="When it was reported (or last re-reported with another reason or note).")
    def at(self) -> datetime:
        return self.model.created_at


@strawberry.type(name="ModerationDecision", description="One decision in an item's audit trail.")
class ModerationDecisionType:
    model: strawberry.Private[ModerationDecision]

    @strawberry.field(description="HIDE with a null moderator: hidden automatically by reports.")
    def action(self) -> ModerationAction:
        return self.model.action

    @strawberry.field(name="from")
    def from_(self) -> ModerationState:
        return self.model.from_state

    @strawberry.field
    def to(self) -> ModerationState:
        return self.model.to_state

    @strawberry.field(description="The moderator's reason, or why it was hidden automatically.")
    def reason(self) -> str | None:
        return self.model.reason

    @strawberry.field(description="Who decided; null when reports hid it, or if their account is gone.")
    async def moderator(self, info: Info) -> UserNode | None:
        return await load_user(info, self.model.actor_id)

    @strawberry.field
    def at(self) -> datetime:
        return self.model.created_at


@strawberry.type(description="An idea or comment waiting for a moderator: pending approval, or reported.")
class ModerationItem:
    item: strawberry.Private[moderation.QueueItem]

    @strawberry.field
    def subject(self) -> ModerationSubject:
        return subject_node(self.item.subject)

    @strawberry.field
    def state(self) -> ModerationState:
        return self.item.subject.state

    @strawberry.field(description="Distinct members whose reports wait for a decision.")
    def report_count(self) -> int:
        return self.item.case.report_count

    @strawberry.field(description="The reports waiting for a decision, newest first.")
    def reports(self) -> list[ReportType]:
        return [ReportType(model=r) for r in self.item.reports]

    @strawberry.field(description="Every decision taken on it, oldest first: the audit trail.")
    def decisions(self) -> list[ModerationDecisionType]:
        return [ModerationDecisionType(model=d) for d in self.item.decisions]


@strawberry.type(name="ModerationItemConnection")
class ModerationItemConnection(relay.Connection[ModerationItem]):
    pass


async def moderation_queue(
    info: Info,
    board: Board,
    first: int | None,
    after: str | None,
    states: list[ModerationState] | None,
    last: int | None,
    before: str | None,
) -> ModerationItemConnection:
    """Board.moderationQueue: FORBIDDEN or UNAUTHENTICATED (a top-level error) for anyone but moderators."""
    chosen = None if states is None else tuple(sorted(set(states), key=lambda s: s.value))
    scope = relay.scope("Board.moderationQueue", board.id, chosen)
    window = relay.window(info, scope, moderation.QUEUE_ORDER, first, after, last, before)
    try:
        async with info.context.read() as session:
            page = await moderation.queue(session, info.context.actor, board, chosen, window)
    except DomainError as exc:
        raise query_error(exc) from None
    return relay.connection(ModerationItemConnection, scope, window, page, lambda row: ModerationItem(item=row))


@strawberry.input
class ReportContentInput:
    subject_id: strawberry.ID = strawberry.field(description="An Idea or Comment id.")
    reason: ReportReason
    note: str | None = strawberry.field(default=None, description="Up to 5,000 characters.")


@strawberry.type
class ReportContentPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ModerateContentInput:
    subject_id: strawberry.ID = strawberry.field(description="An Idea or Comment id.")
    action: ModerationAction
    reason: str | None = strawberry.field(
        default=None, description="Up to 5,000 characters; kept in the audit trail and told to the author on HIDE."
    )


@strawberry.type
class ModerateContentPayload:
    subject: ModerationSubject | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ModerationMutations:
    @strawberry.mutation(
        extensions=[DomainErrors(rate="report")],
        description=(
            "Report an idea or comment you can see. Members, moderators and admins of its workspace; one report per "
            "member per subject (another reason or note replaces yours). Reports from Board.reportThreshold "
            "distinct members hide it until a moderator decides; its author is notified, never told who reported. "
            "Codes: UNAUTHENTICATED, NOT_FOUND (subjectId), INVALID (subjectId: your own content or not an idea or "
            "comment; note), CONFLICT (subjectId: the same report again), RATE_LIMITED."
        ),
    )
    async def report_content(self, info: Info, input: ReportContentInput) -> ReportContentPayload:
        kind, pk = parse_subject(input.subject_id)
        async with info.context.transaction() as session:
            await moderation.report(session, info.context.actor, kind, pk, input.reason, input.note)
        return ReportContentPayload()

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Decide on an idea or comment: APPROVE, HIDE or RESTORE, with an optional reason, recorded in the audit "
            "trail (ModerationItem.decisions). Moderators and admins of its workspace. Approving a pending idea "
            "announces it (subscriptions, webhooks) and enters it in rankings. Codes: UNAUTHENTICATED (subjectId), "
            "FORBIDDEN (subjectId), NOT_FOUND (subjectId), INVALID (subjectId; action: a move its state does not "
            "allow; reason)."
        ),
    )
    async def moderate_content(self, info: Info, input: ModerateContentInput) -> ModerateContentPayload:
        kind, pk = parse_subject(input.subject_id)
        async with info.context.transaction() as session:
            subject = await moderation.moderate(session, info.context.actor, kind, pk, input.action, input.reason)
        return ModerateContentPayload(subject=subject_node(subject))

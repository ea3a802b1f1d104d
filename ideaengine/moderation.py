"""Moderation: pre-moderation, reports that hide content, the moderators' queue and their decisions.

An idea or comment is VISIBLE, PENDING (waiting for approval on a board that requires it) or HIDDEN (by a
moderator, or by reports from `Board.report_threshold` distinct users). Who may see which is decided once,
in `ideaengine.visibility`. Whatever moderators look at is a `ModerationCase`: open while it waits for
approval or holds undecided reports; its reports and the decisions taken on it hang off it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, conversations, mail, validation, visibility, webhooks
from ideaengine.errors import DomainError, ErrorCode, invalid, not_found
from ideaengine.identity import Actor, ActorRole, require_in
from ideaengine.platform import events
from ideaengine.platform.models import (
    Board,
    Comment,
    Idea,
    ModerationAction,
    ModerationCase,
    ModerationDecision,
    ModerationState,
    Notification,
    NotificationKind,
    Report,
    ReportReason,
    utcnow,
)
from ideaengine.platform.queries import Page, SortKey, Window, pages
from ideaengine.platform.upsert import insert_ignore

SUBJECT_FIELD = "subjectId"


@dataclass
class Subject:
    """An idea or a comment (with its idea) and the board both are on."""

    idea: Idea
    board: Board
    comment: Comment | None = None

    @property
    def state(self) -> ModerationState:
        return self.comment.moderation_state if self.comment is not None else self.idea.moderation_state

    @state.setter
    def state(self, value: ModerationState) -> None:
        if self.comment is not None:
            self.comment.moderation_state = value
        else:
            self.idea.moderation_state = value

    @property
    def author_id(self) -> int | None:
        return self.comment.author_id if self.comment is not None else self.idea.author_id

    @property
    def noun(self) -> str:
        return "comment" if self.comment is not None else "idea"


def initial_state(actor: Actor, board: Board) -> ModerationState:
    """PENDING for members on a board that requires approval; moderators and admins publish at once."""
    if board.requires_approval and not actor.is_moderator_of(board.workspace_id):
        return ModerationState.PENDING
    return ModerationState.VISIBLE


async def queue_if_pending(session: AsyncSession, board: Board, idea: Idea, comment: Comment | None = None) -> None:
    """A new PENDING subject enters the moderators' queue (call after its row is flushed)."""
    subject = Subject(idea, board, comment)
    if subject.state == ModerationState.PENDING:
        case = await _case(session, subject)
        case.open, case.opened_at = True, utcnow()


async def publish_idea(session: AsyncSession, board: Board, idea: Idea, at: datetime) -> None:
    """An idea becomes public (submitted visible, or approved): live event, webhook, scores and similar ideas."""
    events.board_event(session, board.id, events.IDEA_SUBMITTED, at, ideaId=idea.id)
    await webhooks.emit(
        session, board, webhooks.WebhookEvent.IDEA_SUBMITTED, {"idea": webhooks.idea_ref(idea, board)}, about=[idea]
    )
    await boards.changed(session, board.id, idea.id, texts=True, at=at)


async def get_subject(session: AsyncSession, actor: Actor, kind: str, pk: int, *, lock: bool = False) -> Subject:
    """An idea or comment the actor may see (NOT_FOUND on `subjectId` otherwise)."""
    if kind == "Idea":
        stmt = (
            select(Idea, Board)
            .join(Board, Board.id == Idea.board_id)
            .where(Idea.id == pk, visibility.ideas_clause(actor))
        )
        if lock:
            stmt = stmt.with_for_update(of=Idea, key_share=True)
        row = (await session.execute(stmt)).first()
        if row is None:
            raise not_found("No such idea.", SUBJECT_FIELD)
        return Subject(row[0], row[1])
    if kind == "Comment":
        cstmt = (
            select(Comment, Idea, Board)
            .join(Idea, Idea.id == Comment.idea_id)
            .join(Board, Board.id == Idea.board_id)
            .where(Comment.id == pk, visibility.comments_clause(actor))
        )
        if lock:
            cstmt = cstmt.with_for_update(of=Comment)
        crow = (await session.execute(cstmt)).first()
        if crow is None:
            raise not_found("No such comment.", SUBJECT_FIELD)
        return Subject(crow[1], crow[2], crow[0])
    raise invalid("Only ideas and comments can be reported or moderated.", SUBJECT_FIELD)


async def _case(session: AsyncSession, subject: Subject) -> ModerationCase:
    """The subject's case, created (closed, no reports) on first need; row-locked on PostgreSQL."""
    key = {"comment_id": subject.comment.id} if subject.comment is not None else {"idea_id": subject.idea.id}
    column = next(iter(key))
    await insert_ignore(
        session,
        ModerationCase,
        {"board_id": subject.board.id, "open": False, "report_count": 0, "opened_at": utcnow(), **key},
        [column],
    )
    where = getattr(ModerationCase, column) == key[column]
    return (await session.execute(select(ModerationCase).where(where).with_for_update())).scalar_one()


async def _require_moderator(session: AsyncSession, actor: Actor, board: Board, what: str) -> int:
    try:
        return await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, what)
    except DomainError as exc:
        raise DomainError(exc.code, exc.message, SUBJECT_FIELD) from None


async def report(
    session: AsyncSession, actor: Actor, kind: str, pk: int, reason: ReportReason, note: str | None = None
) -> None:
    """Members report what they can see, once per subject: reporting again with another reason or note replaces
    the report, the same report again is CONFLICT. Reports from `report_threshold` distinct users hide a
    VISIBLE subject until a moderator decides, and its author is told (never by whom)."""
    subject = await get_subject(session, actor, kind, pk, lock=True)
    user_id = await require_in(session, actor, subject.board.workspace_id, ActorRole.MEMBER, "report content")
    if subject.author_id == user_id:
        raise invalid(f"You cannot report your own {subject.noun}.", SUBJECT_FIELD)
    clean_note = None if note is None else validation.note(note, "note") or None
    case = await _case(session, subject)
    now = utcnow()
    earlier = (
        await session.execute(select(Report).where(Report.case_id == case.id, Report.reporter_id == user_id))
    ).scalar_one_or_none()
    if earlier is None:
        session.add(Report(case_id=case.id, reporter_id=user_id, reason=reason, note=clean_note, created_at=now))
    elif earlier.open and (earlier.reason, earlier.note) == (reason, clean_note):
        raise DomainError(ErrorCode.CONFLICT, f"You already reported this {subject.noun}.", SUBJECT_FIELD)
    else:
        earlier.reason, earlier.note, earlier.open, earlier.created_at = reason, clean_note, True, now
    await session.flush()
    count = (
        await session.execute(
            select(func.count()).select_from(Report).where(Report.case_id == case.id, Report.open.is_(True))
        )
    ).scalar_one()
    if not case.open:
        case.open, case.opened_at = True, now
    case.report_count = int(count)
    if subject.state == ModerationState.VISIBLE and count >= subject.board.report_threshold:
        reason_text = f"Hidden automatically: reported by {count} people."
        await _decide(session, subject, case, None, ModerationAction.HIDE, ModerationState.HIDDEN, reason_text, now)
        case.open = True  # still waits for a moderator's decision
    await session.flush()


async def moderate(
    session: AsyncSession, actor: Actor, kind: str, pk: int, action: ModerationAction, reason: str | None = None
) -> Subject:
    """Moderators and admins of the subject's workspace. APPROVE publishes PENDING content (or dismisses the
    reports on VISIBLE content), HIDE takes VISIBLE or PENDING content down, RESTORE brings HIDDEN content
    back; any other move is INVALID on `action`. The decision is recorded and closes the subject's case."""
    subject = await get_subject(session, actor, kind, pk, lock=True)
    user_id = await _require_moderator(session, actor, subject.board, "moderate content")
    clean_reason = None if reason is None else validation.note(reason, "reason", label="A reason") or None
    case = await _case(session, subject)
    before = subject.state
    target = _target(action, before, case, subject.noun)
    now = utcnow()
    await _decide(session, subject, case, user_id, action, target, clean_reason, now)
    case.open, case.report_count = False, 0
    await session.execute(update(Report).where(Report.case_id == case.id).values(open=False))
    if before == ModerationState.PENDING and target == ModerationState.VISIBLE:
        if subject.comment is None:
            await publish_idea(session, subject.board, subject.idea, now)
        else:
            await _publish_comment(session, subject.board, subject.idea, subject.comment)
    await session.flush()
    return subject


async def _publish_comment(session: AsyncSession, board: Board, idea: Idea, comment: Comment) -> None:
    """An approved comment is heard of as a published one is (`comments.add_comment`): the writer of the
    thread it answers, the users it mentions, the comment.reply webhook. A reply to a reply joined its thread
    when written, so the thread's first comment is the one it answers now."""
    if comment.author_id is None:  # erased while it waited
        return
    answered = None if comment.parent_id is None else await session.get(Comment, comment.parent_id)
    await conversations.tell_about_comment(session, comment.author_id, board, idea, comment, answered)


def _target(action: ModerationAction, state: ModerationState, case: ModerationCase, noun: str) -> ModerationState:
    if action == ModerationAction.APPROVE:
        if state == ModerationState.HIDDEN:
            raise invalid(f"This {noun} is hidden: RESTORE brings it back.", "action")
        if state == ModerationState.VISIBLE and not case.open:
            raise invalid(f"This {noun} is visible and has no reports to dismiss.", "action")
        return ModerationState.VISIBLE
    if action == ModerationAction.HIDE:
        if state == ModerationState.HIDDEN:
            raise invalid(f"This {noun} is already hidden.", "action")
        return ModerationState.HIDDEN
    if state != ModerationState.HIDDEN:
        raise invalid(f"Only hidden content can be restored; this {noun} is {state.value.lower()}.", "action")
    return ModerationState.VISIBLE


async def _decide(
    session: AsyncSession,
    subject: Subject,
    case: ModerationCase,
    actor_id: int | None,
    action: ModerationAction,
    target: ModerationState,
    reason: str | None,
    at: datetime,
) -> None:
    """Record the decision and move the subject; an idea entering or leaving view changes rankings and the
    duplicate index, and an author whose content is hidden is told (never by whom it was reported)."""
    before = subject.state
    session.add(
        ModerationDecision(
            case_id=case.id,
            actor_id=actor_id,
            action=action,
            from_state=before,
            to_state=target,
            reason=reason,
            created_at=at,
        )
    )
    subject.state = target
    await session.flush()
    if target == before:
        return
    if subject.comment is None and ModerationState.VISIBLE in (before, target):
        await boards.changed(session, subject.board.id, subject.idea.id, texts=True, at=at)
    if target == ModerationState.HIDDEN and subject.author_id is not None:
        why = "after reports from members" if actor_id is None else "by a moderator"
        told = Notification(
            user_id=subject.author_id,
            idea_id=subject.idea.id,
            kind=NotificationKind.CONTENT_HIDDEN,
            message=f"Your {subject.noun} on “{subject.idea.title}” was hidden {why}"
            + (f": {reason}" if reason and actor_id is not None else "."),
            created_at=at,
        )
        session.add(told)
        await session.flush()
        await mail.queue(session, [told.id])


QUEUE_ORDER = (
    SortKey(ModerationCase.report_count, descending=True),
    SortKey(ModerationCase.opened_at),
    SortKey(ModerationCase.id),
)
"Most reported first, then the longest waiting."


@dataclass
class QueueItem:
    case: ModerationCase
    subject: Subject
    reports: list[Report] = field(default_factory=list)
    decisions: list[ModerationDecision] = field(default_factory=list)


async def queue(
    session: AsyncSession,
    actor: Actor,
    board: Board,
    states: Sequence[ModerationState] | None,
    window: Window,
) -> Page[QueueItem]:
    """One window of the board's open cases (pending, or reported since the last decision), most reported
    first; moderators and admins of its workspace only (FORBIDDEN or UNAUTHENTICATED otherwise)."""
    await require_in(session, actor, board.workspace_id, ActorRole.MODERATOR, "see the moderation queue")
    stmt = (
        select(ModerationCase)
        .outerjoin(Idea, Idea.id == ModerationCase.idea_id)
        .outerjoin(Comment, Comment.id == ModerationCase.comment_id)
        .where(ModerationCase.open.is_(True))
    )
    if states is not None:
        chosen = list(states)
        stmt = stmt.where(func.coalesce(Comment.moderation_state, Idea.moderation_state).in_(chosen))
    page = (await pages(session, stmt, ModerationCase.board_id, [board.id], QUEUE_ORDER, window))[board.id]
    items = await _items(session, board, page.rows)
    return Page(items, page.keys, page.more, page.total)


async def _items(session: AsyncSession, board: Board, cases: Sequence[ModerationCase]) -> list[QueueItem]:
    """Each case with its subject, open reports (newest first) and decisions (oldest first): four statements."""
    if not cases:
        return []
    comment_ids = [c.comment_id for c in cases if c.comment_id is not None]
    found_comments = {
        c.id: c for c in (await session.execute(select(Comment).where(Comment.id.in_(comment_ids)))).scalars()
    }
    idea_ids = {c.idea_id for c in cases if c.idea_id is not None} | {c.idea_id for c in found_comments.values()}
    found_ideas = {i.id: i for i in (await session.execute(select(Idea).where(Idea.id.in_(idea_ids)))).scalars()}
    case_ids = [c.id for c in cases]
    reports: dict[int, list[Report]] = {i: [] for i in case_ids}
    for r in (
        await session.execute(
            select(Report)
            .where(Report.case_id.in_(case_ids), Report.open.is_(True))
            .order_by(Report.created_at.desc(), Report.id.desc())
        )
    ).scalars():
        reports[r.case_id].append(r)
    decisions: dict[int, list[ModerationDecision]] = {i: [] for i in case_ids}
    for d in (
        await session.execute(
            select(ModerationDecision)
            .where(ModerationDecision.case_id.in_(case_ids))
            .order_by(ModerationDecision.created_at, ModerationDecision.id)
        )
    ).scalars():
        decisions[d.case_id].append(d)
    out: list[QueueItem] = []
    for case in cases:
        comment = found_comments.get(case.comment_id) if case.comment_id is not None else None
        idea = found_ideas[comment.idea_id if comment is not None else case.idea_id or 0]
        out.append(QueueItem(case, Subject(idea, board, comment), reports[case.id], decisions[case.id]))
    return out

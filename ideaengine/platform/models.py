"""ORM tables. The database enforces what must never break: unique votes, foreign keys, enum checks."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ranking import ELO_INITIAL

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


_EPOCH, _NAIVE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1)
"""The two conversions below are arithmetic from these: `replace(tzinfo=...)` and `astimezone` parse keyword
arguments in C, 0.9-1.7 us a call against 0.13, and every stored time of every row read passes through one."""


def stored_utc(value: datetime) -> datetime:
    """A time as a UTC column stores it: naive UTC on both databases (DECISIONS.md 18)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return _NAIVE_EPOCH + (value - _EPOCH)


def read_utc(value: datetime) -> datetime:
    """A stored time read back timezone-aware."""
    return _EPOCH + (value - _NAIVE_EPOCH)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on both databases, read back timezone-aware (DECISIONS.md 18)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else stored_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else read_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str, length: int = 20) -> Enum:
    # Not native: PostgreSQL ENUM types break downgrade-then-upgrade; a named CHECK instead.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


class Role(enum.Enum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Visibility(enum.Enum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


class IdeaStatus(enum.Enum):
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    PLANNED = "PLANNED"
    IN_PROGRESS = "IN_PROGRESS"
    LAUNCHED = "LAUNCHED"
    DECLINED = "DECLINED"
    MERGED = "MERGED"


OPEN_STATUSES = frozenset({IdeaStatus.SUBMITTED, IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED, IdeaStatus.IN_PROGRESS})
"Statuses in which an idea takes votes and comparisons (DECISIONS.md 7)."


class NotificationKind(enum.Enum):
    STATUS_CHANGED = "STATUS_CHANGED"
    MERGED = "MERGED"
    OFFICIAL_COMMENT = "OFFICIAL_COMMENT"
    CONTENT_HIDDEN = "CONTENT_HIDDEN"
    REPLY = "REPLY"
    MENTION = "MENTION"
    ANSWER_ACCEPTED = "ANSWER_ACCEPTED"
    SUPPORTED_IDEA_LAUNCHED = "SUPPORTED_IDEA_LAUNCHED"
    CAMPAIGN_PHASE_CHANGED = "CAMPAIGN_PHASE_CHANGED"
    CAMPAIGN_RESULT = "CAMPAIGN_RESULT"


class CampaignPhase(enum.Enum):
    """A campaign's phases in the only order it moves through them (never backward)."""

    SCHEDULED = "SCHEDULED"
    SUBMISSION = "SUBMISSION"
    SHORTLIST = "SHORTLIST"
    VOTING = "VOTING"
    CLOSED = "CLOSED"


class BallotKind(enum.Enum):
    VOTES = "VOTES"
    APPROVAL = "APPROVAL"
    BUDGET = "BUDGET"
    PAIRWISE = "PAIRWISE"


class FreshAccounts(enum.Enum):
    """What a campaign's results do with ballots from accounts first seen after its voting window opened:
    the accounts a last-minute brigade creates."""

    COUNT = "COUNT"
    SEPARATE = "SEPARATE"
    IGNORE = "IGNORE"


class Reaction(enum.Enum):
    THUMBS_UP = "THUMBS_UP"
    HEART = "HEART"
    HOORAY = "HOORAY"
    LAUGH = "LAUGH"
    CONFUSED = "CONFUSED"


class DuplicateSensitivity(enum.Enum):
    """How readily a board's duplicate clusters join ideas (thresholds: ranking.SENSITIVITY_THRESHOLDS)."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class DigestFrequency(enum.Enum):
    INSTANT = "INSTANT"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    NEVER = "NEVER"


class ModerationState(enum.Enum):
    VISIBLE = "VISIBLE"
    PENDING = "PENDING"
    "Waiting for a moderator's approval (boards with requires_approval)."
    HIDDEN = "HIDDEN"
    "Taken down by a moderator, or by reports from enough distinct users."


class ReportReason(enum.Enum):
    SPAM = "SPAM"
    ABUSE = "ABUSE"
    OFF_TOPIC = "OFF_TOPIC"
    PERSONAL_DATA = "PERSONAL_DATA"
    OTHER = "OTHER"


class ModerationAction(enum.Enum):
    APPROVE = "APPROVE"
    HIDE = "HIDE"
    RESTORE = "RESTORE"


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sso_secret_encrypted: Mapped[str] = mapped_column(Text)
    "Fernet token of the SSO secret: it must stay usable to verify HMAC signatures, so it is not hashed."
    previous_sso_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    "The secret a rotation replaced: tokens signed with it still verify until previous_sso_secret_until."
    previous_sso_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    "The host app's id (SSO `sub`), or `apikey:<id>` for an API key's service user."
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.MEMBER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "Set while a ban is recorded: the user reads like anonymous and writes nothing (until banned_until, if set)."
    banned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "When the ban ends by itself; null with banned_at set: until a moderator lifts it."
    ban_reason: Mapped[str | None] = mapped_column(Text)
    banned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "Set when the user was erased: name, email and external id are gone for good; their content stays."


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    "SHA-256 hex of the key: keys are long and random, so no slow KDF is needed (DECISIONS.md 2)."
    prefix: Mapped[str] = mapped_column(String(16))
    "The first characters of the key, so people can tell their keys apart."
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Board(Base):
    __tablename__ = "boards"
    __table_args__ = (UniqueConstraint("workspace_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility, "board_visibility"), default=Visibility.PUBLIC)
    text_seq: Mapped[int] = mapped_column(Integer, default=0)
    "Bumped by every write that changes an idea's text or openness; the duplicate index keeps its own."
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "Set while the board is archived: readable, but its ideas take no new writes."
    status_labels: Mapped[dict[str, str] | None] = mapped_column(JSON)
    "The board's own words for statuses, by status value; a status left out reads as its default."
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    "The last submission, edit, status change or merge (votes and comparisons leave the board row alone)."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    "Members' new ideas and comments start PENDING until a moderator approves them."
    report_threshold: Mapped[int] = mapped_column(Integer, default=3)
    "Reports from this many distinct users hide a subject until a moderator decides."
    duplicate_sensitivity: Mapped[DuplicateSensitivity] = mapped_column(
        _enum(DuplicateSensitivity, "duplicate_sensitivity"), default=DuplicateSensitivity.MEDIUM
    )
    "How readily duplicate clusters join this board's ideas."

    workspace: Mapped[Workspace] = relationship(lazy="raise")


class BoardScoreSeq(Base):
    """A board's score sequence, kept in shards: the board's sequence is the sum of its rows.

    Every write that can change a score adds one to one shard (chosen by the idea it touched), so votes on
    different ideas of one board do not all queue for one row lock until they commit. The sum only grows,
    so staleness stays exact (DECISIONS.md 12): figures computed at a sum older than the current one miss
    a write.
    """

    __tablename__ = "board_score_seqs"

    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)


class Idea(Base):
    __tablename__ = "ideas"
    __table_args__ = (
        CheckConstraint("up_count >= 0 AND down_count >= 0", name="tally_nonnegative"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_self"),
        Index("ix_ideas_board_status_created", "board_id", "status", "created_at", "id"),
        Index("ix_ideas_board_up", "board_id", "up_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="", deferred=True, deferred_raiseload=True)
    "Title and body in Python-normalised lower case, so search is case-insensitive beyond ASCII on SQLite.\n"
    "Deferred, like `embedding`: only searched and written, never read with the idea."
    status: Mapped[IdeaStatus] = mapped_column(_enum(IdeaStatus, "idea_status"), default=IdeaStatus.SUBMITTED)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="SET NULL"))
    up_count: Mapped[int] = mapped_column(Integer, default=0)
    down_count: Mapped[int] = mapped_column(Integer, default=0)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    trending: Mapped[float] = mapped_column(Float, default=0.0)
    "TRENDING's decayed net votes as of `trending_at`, moved with every vote (ideaengine/trending.py)."
    trending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "The reference time of `trending`: its last change; null before the first vote."
    moderation_state: Mapped[ModerationState] = mapped_column(
        _enum(ModerationState, "idea_moderation_state"), default=ModerationState.VISIBLE
    )
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    "Unit float32 sentence embedding, computed once when the text is written (the `semantic` extra). Deferred:\n"
    "a page of ideas would otherwise fetch and copy 1.5 KB per idea it never shows (read it by column)."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    "The campaign the idea was entered into, if any (ideaengine/campaigns.py); the board lists it all the same."
    cost: Mapped[float | None] = mapped_column(Float)
    "BUDGET campaigns: the estimated cost moderators set; null until then."
    finalist: Mapped[bool] = mapped_column(Boolean, default=False)
    "Picked in its campaign's SHORTLIST phase: once a campaign has finalists, VOTING offers them alone."

    board: Mapped[Board] = relationship(lazy="raise")


def open_idea_clause() -> ColumnElement[bool]:
    """An idea that takes votes and comparisons, and that campaigns offer: published (VISIBLE) and in one of
    OPEN_STATUSES. `ideas.require_open` checks the same in Python and says why not; a write run as one statement
    (the vote) writes only where this holds."""
    # Equalities, not IN: a statement run on the driver binds one value per parameter (`driver.Prepared`).
    return and_(
        Idea.moderation_state == ModerationState.VISIBLE,
        or_(*(Idea.status == status for status in sorted(OPEN_STATUSES, key=lambda status: status.value))),
    )


class Campaign(Base):
    """A time-boxed contest on a board: entries in SUBMISSION, finalists in SHORTLIST, ballots in VOTING."""

    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_board_created", "board_id", "created_at", "id"),
        Index("ix_campaigns_results_at", "results_at"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget_nonnegative"),
        CheckConstraint("max_choices IS NULL OR max_choices >= 1", name="max_choices_positive"),
        CheckConstraint("winner_count >= 1", name="winner_count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    phase: Mapped[CampaignPhase] = mapped_column(_enum(CampaignPhase, "campaign_phase"))
    ballot: Mapped[BallotKind] = mapped_column(_enum(BallotKind, "campaign_ballot"))
    submission_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submission_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voting_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voting_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "A null date is a move the workers never make: a moderator moves the phase on by hand."
    max_choices: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    winner_count: Mapped[int] = mapped_column(Integer, default=1)
    fresh_accounts: Mapped[FreshAccounts] = mapped_column(
        _enum(FreshAccounts, "campaign_fresh_accounts"), default=FreshAccounts.COUNT
    )
    "Whether ballots of accounts first seen (users.created_at) at or after `voting_opened_at` count."
    voting_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "When voting opened: votingStartsAt if it had passed when the campaign entered VOTING, else that moment."
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    "Who created it: the workers act in their name when they move winners to PLANNED."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    phase_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    results_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "When the results were computed (once, after CLOSED); null before: the sweep looks for these."


class CampaignBallot(Base):
    """One idea on one voter's APPROVAL or BUDGET ballot; castBallot replaces a voter's rows at once."""

    __tablename__ = "campaign_ballots"
    __table_args__ = (Index("ix_campaign_ballots_campaign_idea", "campaign_id", "idea_id"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignResult(Base):
    """A closed campaign's final standing of one candidate, computed once from the ballots."""

    __tablename__ = "campaign_results"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    support: Mapped[float] = mapped_column(Float)
    winner: Mapped[bool] = mapped_column(Boolean)
    cost: Mapped[float | None] = mapped_column(Float)
    fresh_support: Mapped[float | None] = mapped_column(Float)
    "SEPARATE: the same measure from fresh accounts' ballots alone (left out of `support`); null otherwise."


class IdeaTag(Base):
    __tablename__ = "idea_tags"
    __table_args__ = (Index("ix_idea_tags_tag", "tag"),)

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("idea_id", "user_id"),
        CheckConstraint("value IN (-1, 1)", name="value_is_up_or_down"),
        Index("ix_votes_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comparison(Base):
    """One voter's verdict on one pair of ideas; comparing the pair again replaces it (DECISIONS.md 9)."""

    __tablename__ = "comparisons"
    __table_args__ = (
        UniqueConstraint("voter_id", "low_id", "high_id"),
        CheckConstraint("winner_id <> loser_id", name="not_against_itself"),
        CheckConstraint("low_id < high_id", name="pair_ordered"),
        Index("ix_comparisons_board_created", "board_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    winner_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    loser_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    low_id: Mapped[int] = mapped_column(Integer)
    "min(winner, loser): with high_id, the unordered pair one voter may judge once."
    high_id: Mapped[int] = mapped_column(Integer)
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_idea_created", "idea_id", "created_at", "id"),
        Index("ix_comments_parent_created", "parent_id", "created_at", "id"),
        Index(
            "uq_comments_one_accepted_per_idea",
            "idea_id",
            unique=True,
            sqlite_where=text("accepted"),
            postgresql_where=text("accepted"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    "The top-level comment whose thread this reply is in; null for a top-level comment (one level of nesting)."
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    "Marked as the answer to the idea's question; at most one per idea (a partial unique index)."
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    official: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    moderation_state: Mapped[ModerationState] = mapped_column(
        _enum(ModerationState, "comment_moderation_state"), default=ModerationState.VISIBLE
    )
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "The author's last edit; the bodies it replaced are CommentRevision rows."
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "Set when deleted: the body is then the placeholder, and the deleted text a CommentRevision."


class CommentReaction(Base):
    """One user's reaction of one kind to a comment: the primary key allows each kind once per user."""

    __tablename__ = "comment_reactions"

    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    reaction: Mapped[Reaction] = mapped_column(_enum(Reaction, "comment_reaction"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModerationCase(Base):
    """One idea or comment moderators look at: open while it waits for approval or holds undecided reports.

    Reports and decisions hang off it, so the queue is one table whatever the subject's kind."""

    __tablename__ = "moderation_cases"
    __table_args__ = (
        CheckConstraint("(idea_id IS NULL) <> (comment_id IS NULL)", name="one_subject"),
        Index("ix_moderation_cases_board_open", "board_id", "open", "report_count", "opened_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), unique=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), unique=True)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    "In the queue: pending approval, or reported since the last decision."
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    "Distinct users whose reports wait for a decision."
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    "When it (re-)entered the queue: ties in report count go oldest first."


class Report(Base):
    """One user's report of one subject; reporting it again replaces the reason and note."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("case_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("moderation_cases.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[ReportReason] = mapped_column(_enum(ReportReason, "report_reason"))
    note: Mapped[str | None] = mapped_column(Text)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    "Not yet decided on: only open reports count towards hiding."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModerationDecision(Base):
    """The audit trail: who (null: the report threshold) moved a subject between states, when and why."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (Index("ix_moderation_decisions_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("moderation_cases.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[ModerationAction] = mapped_column(_enum(ModerationAction, "moderation_action"))
    from_state: Mapped[ModerationState] = mapped_column(_enum(ModerationState, "decision_from_state"))
    to_state: Mapped[ModerationState] = mapped_column(_enum(ModerationState, "decision_to_state"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusChange(Base):
    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_idea_created", "idea_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    from_status: Mapped[IdeaStatus | None] = mapped_column(_enum(IdeaStatus, "status_change_from"))
    to_status: Mapped[IdeaStatus] = mapped_column(_enum(IdeaStatus, "status_change_to"))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (Index("ix_follows_user_created", "user_id", "created_at"),)

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, "notification_kind", 40))
    "40 characters since revision 0011 (SUPPORTED_IDEA_LAUNCHED has 23); the others' enums keep 20."
    message: Mapped[str] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationSetting(Base):
    """A user's choices about notifications; no row means the defaults (`ideaengine.settings_of`)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    digest: Mapped[DigestFrequency] = mapped_column(_enum(DigestFrequency, "digest_frequency"))
    follow_on_vote: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailStatus(enum.Enum):
    PENDING = "PENDING"
    "Not sent yet: waiting for its first attempt, its digest's time, or (attempts > 0) a retry."
    SENT = "SENT"
    SKIPPED = "SKIPPED"
    "Not sent, on purpose: by sending time the user turned email off, has no address, or cannot read the idea."
    FAILED = "FAILED"
    "Given up: the mail server refused it for good (5xx), or out of attempts."


class MailOutbox(Base):
    """One notification to send by email: written with the notification, sent by `workers.mail.send_due`.

    One row per notification (which is one user's), so no address hears of one event twice; `locked_until`
    is a sender's claim, so two senders never take the same row."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_due", "status", "next_attempt_at"),
        Index("ix_mail_outbox_user", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    digest: Mapped[DigestFrequency] = mapped_column(_enum(DigestFrequency, "mail_outbox_digest"))
    "The rhythm the user had chosen when it was written: INSTANT alone, DAILY or WEEKLY gathered per user."
    status: Mapped[MailStatus] = mapped_column(_enum(MailStatus, "mail_status"), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    "When it is due: now for INSTANT, a day or a week on for a digest, later after a failed attempt."
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "Claimed by a sender until then (a sender that died releases it when this passes)."
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BoardScore(Base):
    """What a board's last score refresh covered: one row per board, written with the figures it refreshed.

    The refresh writes only the `idea_scores` rows whose figures changed, so what it covered is kept here
    once: the score sequence it included (`stale` = the board's sequence is newer, DECISIONS.md 12), when it
    ran, and the time every `idea_scores.trending` of the board is expressed at.
    """

    __tablename__ = "board_scores"

    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True)
    computed_seq: Mapped[int] = mapped_column(Integer, default=-1)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    trending_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    "The reference time of the board's stored TRENDING figures (re-based now and then, so they stay in range)."
    pairs_digest: Mapped[str | None] = mapped_column(String(32), default=None)
    "What the stored pairwise figures were computed from (workers.scores.pairs_digest); None before."


class IdeaScore(Base):
    """Figures computed by `workers.scores.refresh_board`; see RANKING.md for each definition.

    `trending` is as of the board's `BoardScore.trending_at`, the same time for every idea of the board, so a
    row whose votes did not change keeps its value between refreshes and TRENDING orders by this column.
    `computed_at` and `computed_seq` say when the row's figures last changed; what the board's last refresh
    covered, and so `stale`, is on `BoardScore`.

    Every idea has its row from the moment it is inserted: a trigger on `ideas` (migration 0018) writes it with
    the neutral figures every scored sort gave an idea never scored, and `computed_seq` -1, which readers take
    as no figures yet (`SCORED`). So the scored sorts read a board's ideas in the order of one of the indexes
    below, which they carry whole (board, figure, then newest and id as the tie-breaks, `ideas.sort_keys`), and
    stop after a page: before, every page sorted the whole board. `created_at` is the idea's, for those ties.
    A SQLite migration that rebuilds `ideas` (batch mode) drops the trigger: it must create it again
    (`tests/api/test_score_rows.py` checks that a new idea has its row).
    """

    __tablename__ = "idea_scores"
    __table_args__ = (
        Index("ix_idea_scores_top", "board_id", "wilson_lower_bound", "created_at", "idea_id"),
        Index("ix_idea_scores_trending", "board_id", "trending", "created_at", "idea_id"),
        Index("ix_idea_scores_pairwise", "board_id", "bradley_terry", "created_at", "idea_id"),
        Index("ix_idea_scores_elo", "board_id", "elo", "created_at", "idea_id"),
    )

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    up: Mapped[int] = mapped_column(Integer, default=0)
    down: Mapped[int] = mapped_column(Integer, default=0)
    wilson_lower_bound: Mapped[float] = mapped_column(Float, default=0.0)
    trending: Mapped[float] = mapped_column(Float, default=0.0)
    elo: Mapped[float] = mapped_column(Float, default=ELO_INITIAL)
    bradley_terry: Mapped[float] = mapped_column(Float, default=0.0)
    bt_low: Mapped[float] = mapped_column(Float, default=0.0)
    bt_high: Mapped[float] = mapped_column(Float, default=0.0)
    comparisons: Mapped[int] = mapped_column(Integer, default=0)
    rank: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    computed_seq: Mapped[int] = mapped_column(Integer, default=-1)
    "The board's score sequence at the refresh that last changed these figures; -1 before any (`SCORED`)."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    "The idea's `created_at`: the scored sorts' tie-break, in their indexes."


SCORED = IdeaScore.computed_seq >= 0
"A row with figures a refresh computed; the others are the placeholders every idea starts with (see IdeaScore)."


class DuplicateCluster(Base):
    __tablename__ = "duplicate_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), index=True)
    cohesion: Mapped[float] = mapped_column(Float)
    "Lowest pairwise similarity inside the cluster."
    size: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DuplicateLink(Base):
    """Membership of an idea in a duplicate cluster."""

    __tablename__ = "duplicate_links"

    cluster_id: Mapped[int] = mapped_column(ForeignKey("duplicate_clusters.id", ondelete="CASCADE"), primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    similarity: Mapped[float] = mapped_column(Float, default=0.0)
    "Mean similarity to the rest of its cluster."


class BoardIndex(Base):
    """A board's similar-idea index, built by `workers.duplicates.index_board` (numeric arrays, never a pickle)."""

    __tablename__ = "board_indexes"

    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True)
    text_seq: Mapped[int] = mapped_column(Integer)
    "The board's text_seq the index includes."
    max_idea_id: Mapped[int] = mapped_column(Integer)
    "Ideas above this id are newer than the index and are scored per request."
    format_version: Mapped[int] = mapped_column(Integer)
    "`ranking.INDEX_FORMAT` of the payload: an index of any other format counts as missing, and is rebuilt."
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    """`ideaengine.duplicates.StoredIndex.to_bytes`: the index's arrays and idea ids, in numpy's npz format. The
    last column (migration 0020): SQLite reads a row's columns in order, and every lookup reads the others."""


class WebhookDeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    "Not delivered yet: waiting for its first attempt, or (attempts > 0) for a retry."
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    "Given up: a final answer (4xx other than 408/429), out of attempts, or a refused address."


class Webhook(Base):
    """An admin's endpoint that hears a workspace's events, signed with its own secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    "Event names it hears, e.g. `idea.status_changed`."
    secret_encrypted: Mapped[str] = mapped_column(Text)
    "Fernet token of the signing secret (like SSO secrets: it must stay usable for HMAC, so it is not hashed)."
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event sent to one webhook: the exact body (every attempt sends the same bytes) and its log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_log", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    "UUID sent as X-Ideaengine-Delivery: the same on every attempt, so receivers can drop repeats."
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[str] = mapped_column(Text)
    "The JSON body, serialised once; the signature is over these bytes."
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        _enum(WebhookDeliveryStatus, "webhook_delivery_status"), default=WebhookDeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    "HTTP status of the last answer; null when there was none (timeout, refused connection)."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CommentRevision(Base):
    """A body a comment no longer shows (replaced by an edit, or removed by a delete), kept for moderators."""

    __tablename__ = "comment_revisions"
    __table_args__ = (Index("ix_comment_revisions_comment", "comment_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    "Who replaced or deleted it."
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdeaMerge(Base):
    """One merge and exactly what it moved, so `unmergeIdea` can put it back.

    `moved` holds the ids of the votes, comments and comparisons that moved to the target (with each
    comparison's verdict before), the users whose follow moved, and the rows the merge dropped as
    duplicates (a voter's source vote when they had voted on the target too, and so on) in full.
    """

    __tablename__ = "idea_merges"
    __table_args__ = (Index("ix_idea_merges_source", "source_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    source_status: Mapped[IdeaStatus] = mapped_column(_enum(IdeaStatus, "idea_merge_source_status"))
    "The source's status before the merge, which an unmerge restores."
    moved: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    "Set by the unmerge; an undone merge is kept as history."

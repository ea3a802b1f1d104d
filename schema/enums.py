"""Domain enums as the API names them, each value described; the domain never imports strawberry."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from strawberry.types.enum import EnumAnnotation

import ranking
from ideaengine import ideas
from ideaengine.errors import ErrorCode
from ideaengine.identity import ActorRole
from ideaengine.platform import models

E = TypeVar("E", bound=enum.EnumMeta)


@dataclasses.dataclass(frozen=True)
class _Described(EnumAnnotation):
    values: tuple[tuple[str, str], ...] = ()

    def __call__(self, cls: E) -> E:
        cls = super().__call__(cls)
        texts = dict(self.values)
        for value in cls.__strawberry_definition__.values:  # type: ignore[attr-defined]
            value.description = texts[value.name]
        return cls


def described(cls: type[enum.Enum], name: str, description: str, values: Mapping[Any, str]) -> EnumAnnotation:
    """`strawberry.enum(name=..., description=...)` for a domain enum, with a description for every value
    (the schema is the API's documentation): a value left undescribed fails at import, not in review."""
    missing = [m.name for m in cls if m not in values]
    if missing:
        raise ValueError(f"{name}: describe every value; missing {', '.join(missing)}")
    return _Described(name=name, description=description, values=tuple((m.name, text) for m, text in values.items()))


_S = models.IdeaStatus
IdeaStatus = Annotated[
    models.IdeaStatus,
    described(
        models.IdeaStatus,
        "IdeaStatus",
        "Where an idea is in its life: SUBMITTED -> UNDER_REVIEW -> PLANNED -> IN_PROGRESS -> LAUNCHED, or DECLINED "
        "(may reopen to UNDER_REVIEW), or MERGED into another idea. SUBMITTED to IN_PROGRESS are open: they take "
        "votes and comparisons and are offered as similar ideas.",
        {
            _S.SUBMITTED: "New, not yet looked at by the team. Open. Every idea starts here.",
            _S.UNDER_REVIEW: "The team is considering it. Open.",
            _S.PLANNED: "The team means to build it. Open.",
            _S.IN_PROGRESS: "Being built. Open.",
            _S.LAUNCHED: "Done and shipped; final. Takes comments, no more votes or comparisons.",
            _S.DECLINED: "The team will not do it; may reopen to UNDER_REVIEW. Takes comments, no more votes or "
            "comparisons.",
            _S.MERGED: "A duplicate folded into another idea (mergedInto), which took its votes, comments and "
            "followers; final and read-only: no votes, comparisons, comments or edits. Board.ideas lists it only when "
            "`statuses` asks for MERGED.",
        },
    ),
]

_O = ideas.IdeaSort
IdeaSort = Annotated[
    ideas.IdeaSort,
    described(
        ideas.IdeaSort,
        "IdeaSort",
        "How a board's ideas are ordered, highest first. Ties break by newest, then id. The scored orders (TOP, "
        "TRENDING, PAIRWISE, ELO) read the background figures (`IdeaScore`, see `stale`); an idea not yet scored "
        f"sorts as 0 (ELO: {ranking.ELO_INITIAL:g}).",
        {
            _O.TOP: "Lower bound of the 95% Wilson interval of up / (up + down): many votes, mostly up, lead "
            "(IdeaScore.wilsonLowerBound).",
            _O.TRENDING: "Net votes (+1 up, -1 down), each halved every 72 hours of age (IdeaScore.trending).",
            _O.PAIRWISE: "Bradley-Terry strength from pairwise comparisons, the fair order-free figure "
            "(IdeaScore.bradleyTerry).",
            _O.ELO: "Elo rating from pairwise comparisons replayed in order (IdeaScore.elo).",
            _O.MOST_VOTES: "The raw count of up votes (votes.up), exact at once; down votes do not count.",
            _O.NEWEST: "Newest submitted first.",
        },
    ),
]

_V = models.Visibility
BoardVisibility = Annotated[
    models.Visibility,
    described(
        models.Visibility,
        "BoardVisibility",
        "Who may read a board; writing always needs a role in the board's workspace.",
        {
            _V.PUBLIC: "Readable by anyone, anonymous callers and other workspaces' users included.",
            _V.PRIVATE: "Readable only by the workspace's members, moderators and admins; anyone else finds nothing.",
        },
    ),
]

_N = models.NotificationKind
NotificationKind = Annotated[
    models.NotificationKind,
    described(
        models.NotificationKind,
        "NotificationKind",
        "What happened to a followed idea.",
        {
            _N.STATUS_CHANGED: "A moderator or admin moved the idea to another status (the message holds their note).",
            _N.MERGED: "Another idea was merged into the followed one (its followers now follow this one).",
            _N.OFFICIAL_COMMENT: "A moderator or admin answered officially (the message quotes the answer).",
            _N.CONTENT_HIDDEN: "Your idea, or your comment on this idea, was hidden by a moderator or after reports "
            "from members (never saying who reported it).",
            _N.REPLY: "Someone replied to your comment.",
            _N.MENTION: "Someone mentioned you (@name) in a comment on an idea you can read.",
            _N.ANSWER_ACCEPTED: "Your comment was accepted as the answer on the idea.",
            _N.SUPPORTED_IDEA_LAUNCHED: "An idea you wrote or supported (an UP vote, kept through merges) launched: "
            "a thank-you quoting the idea and the team's note.",
            _N.CAMPAIGN_PHASE_CHANGED: "A campaign you entered, or one of whose entries you follow, moved to another "
            "phase (the notification's idea is your entry, or the entry you follow).",
            _N.CAMPAIGN_RESULT: "A campaign you entered, or one of whose entries you follow, closed: the message "
            "names its winners.",
        },
    ),
]

_DS = models.DuplicateSensitivity
DuplicateSensitivity = Annotated[
    models.DuplicateSensitivity,
    described(
        models.DuplicateSensitivity,
        "DuplicateSensitivity",
        "How readily a board's duplicate clusters join ideas: a trade of precision (clustered ideas really are "
        "duplicates) for recall (duplicates are found). Figures behind each level: docs/ranking.md.",
        {
            _DS.LOW: "Only the surest pairs, ideas that are each other's closest match: about 6 in 10 clustered "
            "pairs are duplicates, fewer are found.",
            _DS.MEDIUM: "The default: ideas each among the other's two closest matches; about half of the clustered "
            "pairs are duplicates.",
            _DS.HIGH: "Any close pair: finds the most duplicates, with more pairs a moderator will separate (about "
            "a third).",
        },
    ),
]

_D = models.DigestFrequency
DigestFrequency = Annotated[
    models.DigestFrequency,
    described(
        models.DigestFrequency,
        "DigestFrequency",
        "How often notifications go out by email.",
        {
            _D.INSTANT: "One email per notification, as it happens.",
            _D.DAILY: "One email a day gathering the day's notifications.",
            _D.WEEKLY: "One email a week gathering the week's notifications.",
            _D.NEVER: "No email; notifications stay in the app.",
        },
    ),
]

_M = models.ModerationState
ModerationState = Annotated[
    models.ModerationState,
    described(
        models.ModerationState,
        "ModerationState",
        "Whether an idea or comment is public. PENDING and HIDDEN content is left out of every list, count, "
        "ranking, similar idea, matchup, subscription and webhook for everyone but the workspace's moderators and "
        "admins, and (PENDING only) its author.",
        {
            _M.VISIBLE: "Everyone who can read the board sees it.",
            _M.PENDING: "Waiting for a moderator's approval (a board with requiresApproval): only its author and "
            "moderators see it.",
            _M.HIDDEN: "Taken down by a moderator, or by reports from Board.reportThreshold distinct members: only "
            "moderators and admins see it. Its author is notified, and reads it in that notification only.",
        },
    ),
]

_RR = models.ReportReason
ReportReason = Annotated[
    models.ReportReason,
    described(
        models.ReportReason,
        "ReportReason",
        "Why a member reports an idea or comment.",
        {
            _RR.SPAM: "Advertising or repeated junk.",
            _RR.ABUSE: "Insults, harassment or hate.",
            _RR.OFF_TOPIC: "Not about the board's subject.",
            _RR.PERSONAL_DATA: "Someone's personal data that should not be public.",
            _RR.OTHER: "Anything else; say what in the note.",
        },
    ),
]

_MA = models.ModerationAction
ModerationAction = Annotated[
    models.ModerationAction,
    described(
        models.ModerationAction,
        "ModerationAction",
        "A moderator's decision on an idea or comment; it closes the item in the queue and is recorded.",
        {
            _MA.APPROVE: "Publish PENDING content, or keep reported VISIBLE content and dismiss its reports.",
            _MA.HIDE: "Take VISIBLE or PENDING content down (HIDDEN); its author is notified.",
            _MA.RESTORE: "Make HIDDEN content VISIBLE again.",
        },
    ),
]

_R = ActorRole
Role = Annotated[
    ActorRole,
    described(
        ActorRole,
        "Role",
        "What a caller may do in its own workspace (Viewer.role); in every other workspace it is ANONYMOUS.",
        {
            _R.ANONYMOUS: "No credentials, or rejected ones: reads public boards, writes nothing.",
            _R.MEMBER: "An SSO user: submits, votes, compares, comments, follows, edits their own ideas.",
            _R.MODERATOR: "An SSO user with role `moderator`: also changes statuses, merges, answers officially, "
            "edits any idea and sees duplicate clusters.",
            _R.ADMIN: "An API key: a moderator who also creates boards and manages webhooks.",
        },
    ),
]

_E = ErrorCode
UserErrorCode = Annotated[
    ErrorCode,
    described(
        ErrorCode,
        "UserErrorCode",
        "Why a mutation was refused; the message says it for people, `field` names the input at fault.",
        {
            _E.INVALID: "An input failed validation, or the idea's state refuses the action (a vote on a closed "
            "idea, a comment on a merged one).",
            _E.NOT_FOUND: "No such object, or one the caller may not see.",
            _E.UNAUTHENTICATED: "The action needs a signed-in caller of the object's workspace: anonymous, or signed "
            "in to another workspace (the message names the one to sign in to).",
            _E.FORBIDDEN: "Signed in to the workspace, but the role does not allow it.",
            _E.CONFLICT: "It clashes with what exists, e.g. a board slug already taken.",
            _E.INVALID_TRANSITION: "The status change is not allowed from the idea's current status.",
            _E.RATE_LIMITED: "Too many of these actions lately; retry after retryAfterSeconds.",
            _E.BOARD_ARCHIVED: "The board is archived: readable, but it takes no submissions, votes, comparisons, "
            "comments, edits, status changes or merges until an admin unarchives it (updateBoard).",
            _E.WRONG_PHASE: "The campaign's phase does not take this: entries only in SUBMISSION, finalists only in "
            "SHORTLIST, ballots (votes, comparisons, castBallot) only in VOTING, costs only before VOTING, "
            "freshAccounts only before CLOSED.",
            _E.NOT_IN_CAMPAIGN: "An idea named is not an entry of the campaign.",
            _E.NOT_A_FINALIST: "The campaign has finalists and an idea named is not one of them.",
            _E.TOO_MANY_CHOICES: "The ballot names more ideas than the campaign's maxChoices.",
            _E.OVER_BUDGET: "The costs of the ideas on the ballot add up to more than the campaign's budget.",
        },
    ),
]


_P = models.CampaignPhase
CampaignPhase = Annotated[
    models.CampaignPhase,
    described(
        models.CampaignPhase,
        "CampaignPhase",
        "Where a campaign is: SCHEDULED -> SUBMISSION -> SHORTLIST -> VOTING -> CLOSED, never backward. The workers "
        "move it when a window's date passes (within a minute); moderators may move it on sooner (updateCampaign).",
        {
            _P.SCHEDULED: "Announced, not yet open.",
            _P.SUBMISSION: "Ideas may be entered (submitIdea with campaignId).",
            _P.SHORTLIST: "Entries closed; moderators may pick finalists (setFinalists).",
            _P.VOTING: "Ballots are cast, on the finalists if any were picked.",
            _P.CLOSED: "Voting is over; results are final once computed.",
        },
    ),
]

_B = models.BallotKind
BallotKind = Annotated[
    models.BallotKind,
    described(
        models.BallotKind,
        "BallotKind",
        "How a campaign's voters choose; every kind breaks ties in favour of the earlier submission.",
        {
            _B.VOTES: "Ordinary up/down votes on the entries (vote), cast in VOTING; ranked by the Wilson lower bound.",
            _B.APPROVAL: "Each voter picks up to maxChoices entries (castBallot); ranked by approvals.",
            _B.BUDGET: "Each voter picks entries whose costs fit the budget (castBallot); ranked by ballots and "
            "funded in that order while the budget lasts, skipping any that no longer fits.",
            _B.PAIRWISE: "Which-is-better comparisons between entries (compareIdeas, pairwiseMatchup with "
            "campaignId), cast in VOTING; ranked by Bradley-Terry strength.",
        },
    ),
]

_F = models.FreshAccounts
FreshAccounts = Annotated[
    models.FreshAccounts,
    described(
        models.FreshAccounts,
        "FreshAccounts",
        "What a campaign's results do with ballots (votes, castBallot, comparisons) from fresh accounts: accounts "
        "first seen on the workspace at or after its voting window opened (Campaign.votingOpenedAt), the accounts "
        "a last-minute brigade creates. Changeable until CLOSED.",
        {
            _F.COUNT: "They count like any other (the default).",
            _F.SEPARATE: "They are left out of the ranking and reported apart (CampaignResult.freshSupport).",
            _F.IGNORE: "They are left out of the results.",
        },
    ),
]


class Vote(enum.Enum):
    """A vote as the API names it; the values are what the domain stores (votes.UP, votes.DOWN)."""

    UP = 1
    DOWN = -1


VoteValue = Annotated[
    Vote,
    described(
        Vote,
        "VoteValue",
        "A vote on an idea: one per user per idea, and voting again replaces it.",
        {Vote.UP: "For the idea: counts in votes.up.", Vote.DOWN: "Against the idea: counts in votes.down."},
    ),
]

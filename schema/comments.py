"""Comments: the Comment type, its connection and addComment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from ideaengine import comments, reactions
from ideaengine.platform import models
from ideaengine.platform.models import Comment, CommentRevision
from schema import relay
from schema.context import Info
from schema.enums import ModerationState, described
from schema.errors import DomainErrors, UserError
from schema.users import UserNode, load_user

if TYPE_CHECKING:
    from schema.ideas import IdeaNode


Reaction = Annotated[
    models.Reaction,
    described(
        models.Reaction,
        "Reaction",
        "A reaction to a comment: each user may leave each kind once.",
        {
            models.Reaction.THUMBS_UP: "👍",
            models.Reaction.HEART: "❤️",
            models.Reaction.HOORAY: "🎉",
            models.Reaction.LAUGH: "😄",
            models.Reaction.CONFUSED: "😕",
        },
    ),
]


@strawberry.type(description="How many users left one reaction on a comment.")
class ReactionCount:
    reaction: Reaction
    count: int
    viewer_reacted: bool = strawberry.field(description="The viewer left this reaction (false when anonymous).")


@strawberry.type(name="Comment", description="A comment on an idea.")
class CommentNode(relay.Node):
    model: strawberry.Private[Comment]

    @strawberry.field(description="Opaque global id.")
    def id(self) -> strawberry.ID:
        return relay.encode_id("Comment", self.model.id)

    @strawberry.field
    async def idea(self, info: Info) -> Annotated[IdeaNode, strawberry.lazy("schema.ideas")]:
        from schema.ideas import IdeaNode

        idea = await info.context.loaders.idea.load(self.model.idea_id)
        assert idea is not None  # comments are reached through their visible idea
        return IdeaNode(model=idea)

    @strawberry.field(description="Who wrote it; null if their account is gone or the comment was deleted.")
    async def author(self, info: Info) -> UserNode | None:
        return await load_user(info, comments.shown_author_id(self.model))

    @strawberry.field(description='1-5,000 characters, trimmed; "deleted" once the comment is deleted.')
    def body(self) -> str:
        return self.model.body

    @strawberry.field(description="True when written by a moderator or admin as the board's answer.")
    def official(self) -> bool:
        return self.model.official

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="VISIBLE, or PENDING/HIDDEN (then only moderators and its author see it).")
    def moderation_state(self) -> ModerationState:
        return self.model.moderation_state

    @strawberry.field(description="When its author last edited it; null if never.")
    def edited_at(self) -> datetime | None:
        return self.model.edited_at

    @strawberry.field(
        description="When it was deleted; null while it stands. A deleted comment is listed, as a placeholder "
        '(body "deleted", no author), only while a comment that still stands follows it.'
    )
    def deleted_at(self) -> datetime | None:
        return self.model.deleted_at

    @strawberry.field(
        description="The comment this one answers; null for a top-level comment. Threads are one level deep: a "
        "reply to a reply is listed in the thread of the top-level comment, which is its parent."
    )
    async def parent(self, info: Info) -> CommentNode | None:
        if self.model.parent_id is None:
            return None
        found = await info.context.loaders.comment.load(self.model.parent_id)
        return None if found is None else CommentNode(model=found)

    @strawberry.field(
        description="Direct answers, oldest first (empty for a reply: replies to it join this thread). Read for "
        "a whole page of comments at once."
    )
    async def replies(self, info: Info, first: int | None = 20, after: str | None = None) -> CommentConnection:
        scope = relay.scope("Comment.replies", self.model.id)
        window = relay.window(info, scope, comments.REPLY_ORDER, first, after)
        page = await info.context.loaders.comment_replies.load((self.model.id, window))
        return relay.connection(CommentConnection, scope, window, page, lambda row: CommentNode(model=row))

    @strawberry.field(description="Every reaction kind with its count, zero included, in the enum's order.")
    async def reactions(self, info: Info) -> list[ReactionCount]:
        found = await info.context.loaders.reactions.load(self.model.id)
        return [ReactionCount(reaction=r.reaction, count=r.count, viewer_reacted=r.viewer_reacted) for r in found]

    @strawberry.field(
        description="Marked by the idea's author or a moderator as the answer to the question asked; listed first "
        "among the idea's comments. At most one per idea."
    )
    def accepted(self) -> bool:
        return self.model.accepted

    @strawberry.field(
        description="The bodies edits replaced and the deleted text, oldest first. Moderators and admins of the "
        "workspace; null for everyone else."
    )
    async def revisions(self, info: Info) -> list[CommentRevisionType] | None:
        found = await info.context.loaders.comment_revisions.load(self.model.id)
        return None if found is None else [CommentRevisionType(model=r) for r in found]


@strawberry.type(name="CommentRevision", description="A body a comment no longer shows.")
class CommentRevisionType:
    model: strawberry.Private[CommentRevision]

    @strawberry.field(description="The text as it was.")
    def body(self) -> str:
        return self.model.body

    @strawberry.field(description="Who replaced it (by an edit) or removed it (by deleting); null if gone.")
    async def editor(self, info: Info) -> UserNode | None:
        return await load_user(info, self.model.editor_id)

    @strawberry.field(description="When it was replaced or removed.")
    def replaced_at(self) -> datetime:
        return self.model.replaced_at


@strawberry.type(name="CommentConnection")
class CommentConnection(relay.Connection[CommentNode]):
    pass


@strawberry.input
class AddCommentInput:
    idea_id: strawberry.ID
    body: str = strawberry.field(description="1-5,000 characters after trimming.")
    official: bool | None = strawberry.field(
        default=False, description="The board's answer: moderators and admins only."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Answer this comment of the same idea (its writer is notified, REPLY). Threads are one level "
        "deep: answering a reply adds to the thread of the top-level comment.",
    )


@strawberry.type
class AddCommentPayload:
    comment: CommentNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EditCommentInput:
    comment_id: strawberry.ID
    body: str = strawberry.field(description="The new text: 1-5,000 characters after trimming.")


@strawberry.type
class EditCommentPayload:
    comment: CommentNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteCommentInput:
    comment_id: strawberry.ID


@strawberry.type
class DeleteCommentPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReactToCommentInput:
    comment_id: strawberry.ID
    reaction: Reaction
    on: bool = strawberry.field(description="True leaves the reaction, false takes it back.")


@strawberry.type
class ReactToCommentPayload:
    comment: CommentNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AcceptAnswerInput:
    comment_id: strawberry.ID
    accepted: bool = strawberry.field(description="True marks it as the answer (replacing any other), false unmarks.")


@strawberry.type
class AcceptAnswerPayload:
    comment: CommentNode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CommentMutations:
    @strawberry.mutation(
        extensions=[DomainErrors(rate="comment")],
        description=(
            "Comment on an idea that is not merged (launched and declined ones too). Members, moderators and admins; "
            "`official` answers (which notify followers) moderators and admins only. Codes: UNAUTHENTICATED (naming "
            "the workspace to another workspace's caller), FORBIDDEN, NOT_FOUND (ideaId), INVALID (body; ideaId: a "
            "merged idea, whose comments moved to the idea it was merged into; parentId: a comment of another idea, "
            "deleted or unpublished), NOT_FOUND (parentId), RATE_LIMITED. A published reply notifies the answered "
            "comment's writer (REPLY) and `@name` mentions notify users who can read the idea (MENTION)."
        ),
    )
    async def add_comment(self, info: Info, input: AddCommentInput) -> AddCommentPayload:
        idea_id = relay.decode_id(input.idea_id, "Idea", "ideaId")
        parent_id = None if input.parent_id is None else relay.decode_id(input.parent_id, "Comment", "parentId")
        async with info.context.transaction() as session:
            comment = await comments.add_comment(
                session, info.context.actor, idea_id, input.body, bool(input.official), parent_id
            )
        return AddCommentPayload(comment=CommentNode(model=comment))

    @strawberry.mutation(
        extensions=[DomainErrors(rate="react")],
        description=(
            "Leave or take back a reaction on a comment. Members, moderators and admins. Codes: UNAUTHENTICATED "
            "(naming the workspace to another workspace's caller), FORBIDDEN (banned), NOT_FOUND (commentId), "
            "INVALID (commentId: deleted), BOARD_ARCHIVED (commentId), CONFLICT (reaction: already left, or never "
            "left when taking back), RATE_LIMITED."
        ),
    )
    async def react_to_comment(self, info: Info, input: ReactToCommentInput) -> ReactToCommentPayload:
        comment_id = relay.decode_id(input.comment_id, "Comment", "commentId")
        async with info.context.transaction() as session:
            comment = await reactions.react(session, info.context.actor, comment_id, input.reaction, input.on)
        return ReactToCommentPayload(comment=CommentNode(model=comment))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Mark a top-level comment as the answer to the idea (it is listed first, its writer is notified, "
            "ANSWER_ACCEPTED) or unmark it; one answer per idea, a new one replaces the old. The idea's author, "
            "moderators and admins. Codes: UNAUTHENTICATED (naming the workspace to another workspace's caller), "
            "FORBIDDEN (commentId: another member's idea), NOT_FOUND (commentId), INVALID (commentId: a reply, "
            "deleted, unpublished, or on a merged idea), BOARD_ARCHIVED (commentId)."
        ),
    )
    async def accept_answer(self, info: Info, input: AcceptAnswerInput) -> AcceptAnswerPayload:
        comment_id = relay.decode_id(input.comment_id, "Comment", "commentId")
        async with info.context.transaction() as session:
            comment = await comments.accept_answer(session, info.context.actor, comment_id, input.accepted)
        return AcceptAnswerPayload(comment=CommentNode(model=comment))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            "Rewrite a comment; sets `editedAt`, and moderators can read the replaced body in `revisions`. Its "
            "author only. Codes: UNAUTHENTICATED (naming the workspace to another workspace's caller), FORBIDDEN, "
            "NOT_FOUND (commentId), INVALID (body; commentId: a deleted comment), BOARD_ARCHIVED (commentId)."
        ),
    )
    async def edit_comment(self, info: Info, input: EditCommentInput) -> EditCommentPayload:
        comment_id = relay.decode_id(input.comment_id, "Comment", "commentId")
        async with info.context.transaction() as session:
            comment = await comments.edit_comment(session, info.context.actor, comment_id, input.body)
        return EditCommentPayload(comment=CommentNode(model=comment))

    @strawberry.mutation(
        extensions=[DomainErrors()],
        description=(
            'Delete a comment: it leaves a placeholder (body "deleted", no author) while later comments follow '
            "it, and disappears once none does; moderators can still read its text in `revisions`. Its author, and "
            "moderators and admins for anyone's (archived boards included). Codes: UNAUTHENTICATED (naming the "
            "workspace to another workspace's caller), FORBIDDEN, NOT_FOUND (commentId), INVALID (commentId: "
            "already deleted)."
        ),
    )
    async def delete_comment(self, info: Info, input: DeleteCommentInput) -> DeleteCommentPayload:
        comment_id = relay.decode_id(input.comment_id, "Comment", "commentId")
        async with info.context.transaction() as session:
            await comments.delete_comment(session, info.context.actor, comment_id)
        return DeleteCommentPayload()

"""The GraphQL schema: types per domain, composed here. `schema/schema.graphql` is exported from it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql import ExecutionResult as GraphQLExecutionResult
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from ideaengine.platform.db import unavailable
from ideaengine.platform.settings import (
    MAX_ALIASES,
    MAX_QUERY_COST,
    MAX_QUERY_COST_ANONYMOUS,
    MAX_QUERY_DEPTH,
    MAX_TOKENS,
)
from schema import relay
from schema.apikeys import ApiKeyMutations, ApiKeyQueries
from schema.boards import BoardMutations, BoardNode, BoardQueries
from schema.caches import Documents, cacheable
from schema.campaigns import CampaignMutations, CampaignNode
from schema.comments import CommentMutations, CommentNode
from schema.context import Context, Info, SharedReads
from schema.cost import QueryCost
from schema.direct import call_directly, convert_inputs_directly
from schema.errors import MaskUnexpectedErrors, should_mask_error
from schema.follows import FollowMutations, NotificationNode
from schema.hooks import PlannedHooksRunner
from schema.ideas import IdeaMutations, IdeaNode, IdeaQueries
from schema.leaves import LeafExecutionContext, plan_leaves, plan_small_objects
from schema.lifecycle import LifecycleMutations
from schema.moderation import ModerationMutations
from schema.notification_settings import NotificationSettingsMutations
from schema.subscriptions import BOARD_EVENT_TYPES, Subscriptions
from schema.users import UserMutations, UserNode, Viewer
from schema.votes import VoteMutations, VoteQueries
from schema.webhooks import WebhookMutations, WebhookQueries
from schema.workspaces import WorkspaceMutations

__all__ = ["Context", "SharedReads", "authentication_report", "build_schema", "export_sdl"]


log = logging.getLogger("ideaengine.api")


@strawberry.type
class Query(BoardQueries, IdeaQueries, VoteQueries, WebhookQueries, ApiKeyQueries):
    @strawberry.field(description="Any object by its global id; null if unknown or not visible to the viewer.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        parsed = relay.parse_id(id)
        if parsed is None:
            return None
        type_name, pk = parsed
        loaders = info.context.loaders
        if type_name == "Idea":
            idea = await loaders.idea.load(pk)
            return None if idea is None else IdeaNode(model=idea)
        if type_name == "Board":
            board = await loaders.board.load(pk)
            return None if board is None else BoardNode(model=board)
        if type_name == "User":
            user = await loaders.user.load(pk)
            return None if user is None else UserNode(model=user)
        if type_name == "Comment":
            comment = await loaders.comment.load(pk)
            return None if comment is None else CommentNode(model=comment)
        if type_name == "Campaign":
            campaign = await loaders.campaign.load(pk)
            return None if campaign is None else CampaignNode(model=campaign)
        notification = await loaders.notification.load(pk)
        return None if notification is None else NotificationNode(model=notification)

    @strawberry.field(description="The caller: role, user, follows and notifications.")
    def viewer(self) -> Viewer:
        return Viewer()


@strawberry.type
class Mutation(
    BoardMutations,
    IdeaMutations,
    VoteMutations,
    CommentMutations,
    LifecycleMutations,
    ModerationMutations,
    FollowMutations,
    WebhookMutations,
    ApiKeyMutations,
    WorkspaceMutations,
    UserMutations,
    NotificationSettingsMutations,
    CampaignMutations,
):
    pass


@strawberry.type
class Subscription(Subscriptions):
    pass


def authentication_report(actor: object) -> dict[str, Any]:
    """Why a presented credential was ignored (the caller is then anonymous), in the shape an HTTP answer's
    extensions and a WebSocket's `connection_ack` payload both carry; empty when there is nothing to say."""
    errors = getattr(actor, "auth_errors", ())
    return {"authentication": {"errors": list(errors)}} if errors else {}


class ServerHooks(SchemaExtension):
    """The server's own hooks, in one extension: strawberry makes every extension anew for each request, looks
    up its hooks at each stage and wraps each in a context manager, so each extension costs a request some
    57,000 instructions (9 µs; 7% of executing `mutation { __typename }`), whatever it does. So the limits
    (AddValidationRules and MaxTokensLimiter did this), the query cost and six small behaviours are here.

    Listed after MaskErrors: errors are rewritten, and the read connection released, before it masks what
    remains. A subscription over HTTP is refused after the cost is counted (its error wins)."""

    def __init__(
        self, rules: tuple[type[ASTValidationRule], ...], max_tokens: int, cost: QueryCost, documents: Documents
    ) -> None:
        """`rules`: the limits' validation rules, made once per schema (the validation cache keys on them);
        `documents`: the schema's parse and validation caches."""
        self.rules, self.max_tokens, self.cost, self.documents = rules, max_tokens, cost, documents

    def on_operation(self) -> Iterator[None]:
        """Synchronous, like every hook here, so strawberry enters each stage through a plain ExitStack (an
        asynchronous one cost a vote about 2% of its CPU). An HTTP request's read connection is handed back by
        the app's view once the response is made (`GraphQLApp.__call__`)."""
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules  # depth and aliases
        context.parse_options["max_tokens"] = self.max_tokens  # the parser refuses documents with more
        try:
            yield
        finally:
            if isinstance(context.context, Context):
                context.context.release()

    def on_parse(self) -> Iterator[None]:
        """A document's parsed tree from the cache. A syntax error leaves it unparsed: strawberry parses it again
        and reports the error itself (raised from here, it left a WebSocket operation with a bare `complete`
        instead of the protocol's close 4400)."""
        context = self.execution_context
        if context.query and cacheable(context):
            try:
                context.graphql_document = self.documents.parse(context.query, context.parse_options)
            except GraphQLError:
                pass
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            errors = self.documents.validate(context.schema._schema, context.graphql_document, context.validation_rules)
            if errors is not None:  # else strawberry validates it, uncached
                context.pre_execution_errors = errors
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        self.cost.refuse_if_over(context)
        _refuse_subscriptions_over_http(context)
        yield
        # In the order these ran as extensions (each rewrites what the one before left).
        _leave_operation_name(context)
        _rewrite_errors(context, _bad_variable)
        _rewrite_errors(context, _unavailable)

    def get_results(self) -> dict[str, Any]:
        """Says in the response's extensions why a presented credential was ignored (the caller is anonymous)."""
        return authentication_report(getattr(self.execution_context.context, "actor", None))


def _leave_operation_name(context: ExecutionContext) -> None:
    """Leaves the executed operation's name and type where the access log and the response cache find them."""
    request = getattr(context.context, "request", None)
    if request is not None:
        request.state.graphql_operation = context.operation_name
        request.state.graphql_operation_type = context.operation_type


def _refuse_subscriptions_over_http(context: ExecutionContext) -> None:
    """A subscription sent over HTTP would run as a query and fail on its stream: say where it is served."""
    if context.operation_type == OperationType.SUBSCRIPTION and isinstance(
        getattr(context.context, "request", None), Request
    ):
        error = GraphQLError(
            "Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP.",
            extensions={"code": "BAD_REQUEST"},
        )
        context.result = GraphQLExecutionResult(data=None, errors=[error])


def _rewrite_errors(context: ExecutionContext, rewrite: Callable[[GraphQLError], GraphQLError]) -> None:
    result = context.result
    if result is None or not result.errors:
        return
    result.errors = [rewrite(error) for error in result.errors]


def _unavailable(error: GraphQLError) -> GraphQLError:
    """A resolver that could not reach the database fails with SERVICE_UNAVAILABLE and says to retry, instead
    of the masked "Unexpected error." of a bug: the client did nothing wrong and can do something about it."""
    message = None if error.original_error is None else unavailable(error.original_error)
    if message is None:
        return error
    log.warning("answered SERVICE_UNAVAILABLE: %s", error.original_error)
    return GraphQLError(
        message,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "SERVICE_UNAVAILABLE", "retryAfterSeconds": 1},
    )


def _bad_variable(error: GraphQLError) -> GraphQLError:
    """A variable the schema cannot take (an unknown enum value, a string for an Int) is the client's input at
    fault: BAD_USER_INPUT, like the other refusals of input outside a payload's userErrors."""
    if error.path is not None or error.extensions or not error.message.startswith("Variable '$"):
        return error
    return GraphQLError(error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"})


class QuietSchema(strawberry.Schema):
    """Logs only unexpected errors: a wrong id or a missing right is the client's news, not the operator's."""

    documents: Documents
    "The parse and validation caches its ServerHooks use."

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        super().process_errors([e for e in errors if should_mask_error(e)], execution_context)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        """Hooks planned per extension class (`schema.hooks`): 10% of the instructions of an API-key
        `{ __typename }` went into strawberry's wrapping them anew for every request."""
        return PlannedHooksRunner(execution_context, extensions)


def build_schema(
    max_depth: int = MAX_QUERY_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_tokens: int = MAX_TOKENS,
    max_cost_anonymous: int = MAX_QUERY_COST_ANONYMOUS,
    max_cost: int = MAX_QUERY_COST,
) -> QuietSchema:
    # The limit rules are built once: the validation cache keys on the rule classes, and a limiter made per
    # request makes new classes each time, so no validation would ever be cached.
    limits = (depth_rule(max_depth, None, None), alias_rule(max_aliases))
    cost = QueryCost(anonymous_limit=max_cost_anonymous, limit=max_cost)  # likewise: it keeps the costs counted
    documents = Documents()
    schema = QuietSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[IdeaNode, BoardNode, UserNode, CommentNode, NotificationNode, CampaignNode, *BOARD_EVENT_TYPES],
        extensions=[MaskUnexpectedErrors, lambda: ServerHooks(limits, max_tokens, cost, documents)],
        execution_context_class=LeafExecutionContext,
    )
    schema.documents = documents
    call_directly(schema)
    convert_inputs_directly(schema)
    plan_leaves(schema._schema)
    plan_small_objects(schema._schema)
    return schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"

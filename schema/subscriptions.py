"""Subscriptions over graphql-transport-ws: ideaStatusChanged and boardActivity.

Their permission rules are those of queries: an unknown or unreadable idea or board ends the
subscription with an error at once, and every event is read again with the subscriber's own
rights before it is sent (so nothing of a board the subscriber cannot read ever leaves).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import boards, campaigns, ideas, lifecycle
from ideaengine.errors import not_found
from ideaengine.identity import Actor
from ideaengine.platform import events
from ideaengine.platform.models import Board, CampaignPhase, Idea, StatusChange, utcnow
from ideaengine.platform.services import Services
from schema import relay
from schema.boards import BoardNode
from schema.campaigns import CampaignNode
from schema.context import Info
from schema.enums import CampaignPhase as CampaignPhaseEnum
from schema.errors import query_error
from schema.ideas import IdeaNode
from schema.lifecycle import StatusChangeType


@strawberry.interface(description="Something that happened on a board, as it happens (boardActivity).")
class BoardEvent:
    board: BoardNode
    at: datetime = strawberry.field(description="When it happened.")


@strawberry.type(description="A new idea was submitted.")
class IdeaSubmittedEvent(BoardEvent):
    idea: IdeaNode


@strawberry.type(description="An idea moved through its lifecycle (merges are IdeasMergedEvent).")
class IdeaStatusChangedEvent(BoardEvent):
    change: StatusChangeType


@strawberry.type(description="A duplicate (source) was merged into target.")
class IdeasMergedEvent(BoardEvent):
    source: IdeaNode
    target: IdeaNode


@strawberry.type(description="The board's scores were recomputed: refetch rankings you show.")
class ScoresUpdatedEvent(BoardEvent):
    pass


@strawberry.type(description="A campaign moved to another phase (by its dates, or by a moderator).")
class CampaignPhaseChangedEvent(BoardEvent):
    campaign: CampaignNode
    from_: CampaignPhaseEnum = strawberry.field(name="from")
    to: CampaignPhaseEnum


BOARD_EVENT_TYPES = (
    IdeaSubmittedEvent,
    IdeaStatusChangedEvent,
    IdeasMergedEvent,
    ScoresUpdatedEvent,
    CampaignPhaseChangedEvent,
)
"Registered with the schema: they are reached only through the BoardEvent interface."


async def until_expiry(stream: AsyncIterator[events.Event], actor: Actor) -> AsyncIterator[events.Event]:
    """The events, until the subscriber's SSO token expires: then an UNAUTHENTICATED error ends the stream
    (rights are those of the token; a client subscribes again with a fresh one). A subscriber that fell so
    far behind that the broker dropped it ends with FELL_BEHIND: it may have missed events, so it refetches.

    The wait is `asyncio.timeout`, not `asyncio.wait_for`: on Python 3.11 a cancel landing in the same turn of
    the loop as an event (a client's `complete` as a job thread's refresh is delivered) made wait_for return
    the event and drop the cancel, and the completed operation went on sending events for good."""
    try:
        while True:
            remaining = None if actor.expires_at is None else actor.expires_at - time.time()
            try:
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    event = await anext(stream)
            except TimeoutError:
                raise GraphQLError(
                    "The SSO token has expired: subscribe again with a fresh one.",
                    extensions={"code": "UNAUTHENTICATED"},
                ) from None
            except StopAsyncIteration:
                return
            yield event
    except events.FellBehind:
        raise GraphQLError(
            "This subscription fell behind and was ended: fetch what you show again, then subscribe again.",
            extensions={"code": "FELL_BEHIND"},
        ) from None


_ENDS = (
    "so does the SSO token's expiry (UNAUTHENTICATED, at its exp: subscribe again with a fresh token) and falling "
    "too far behind the events (FELL_BEHIND: refetch, then subscribe again). Each ends through the protocol's "
    "`error` message, so a client's error callback fires."
)
"How every subscription ends other than by the client: said once, in each subscription's description."


def _fresh_loaders(info: Info) -> None:
    """A WebSocket's context lives as long as the connection: forget what earlier events cached."""
    info.context._loaders = None


@strawberry.type
class Subscriptions:
    @strawberry.subscription(
        description="Each status change of one idea, as it happens, merges included (graphql-transport-ws). "
        "An unknown or unreadable idea ends the subscription with an error (BAD_USER_INPUT, NOT_FOUND); "
        f"{_ENDS}"
    )
    async def idea_status_changed(self, info: Info, idea_id: strawberry.ID) -> AsyncGenerator[StatusChangeType, None]:
        pk = relay.query_id(idea_id, "Idea", "ideaId")
        services, actor = info.context.services, info.context.actor
        async with services.db.read() as session:
            visible = await ideas.get_visible_many(session, actor, [pk])
        if not visible:
            raise query_error(not_found("No such idea.", "ideaId"))
        async with services.broker.subscribe(events.idea_channel(pk)) as stream:
            async for event in until_expiry(stream, actor):
                async with services.db.read() as session:
                    change = await lifecycle.get_change(session, actor, int(event.payload["statusChangeId"]))
                if change is not None:
                    _fresh_loaders(info)
                    yield StatusChangeType(model=change)

    @strawberry.subscription(
        description="What happens on one board, as it happens: new ideas, status changes, merges, score "
        "refreshes and campaign phase changes (graphql-transport-ws). An unknown or unreadable board ends the "
        f"subscription with an error (BAD_USER_INPUT, NOT_FOUND); {_ENDS}"
    )
    async def board_activity(self, info: Info, board_id: strawberry.ID) -> AsyncGenerator[BoardEvent, None]:
        pk = relay.query_id(board_id, "Board", "boardId")
        services, actor = info.context.services, info.context.actor
        async with services.db.read() as session:
            if not await boards.get_visible_many(session, actor, [pk]):
                raise query_error(not_found("No such board.", "boardId"))
        async with services.broker.subscribe(events.board_channel(pk)) as stream:
            async for event in until_expiry(stream, actor):
                item = await _board_event(services, actor, pk, event.payload)
                if item is not None:
                    _fresh_loaders(info)
                    yield item


async def _board_event(services: Services, actor: Actor, board_id: int, payload: dict[str, Any]) -> BoardEvent | None:
    """The event as this subscriber may see it, or None (the board or idea is no longer visible to them)."""
    kind = payload.get("type")
    at = _when(payload.get("at"))
    async with services.db.read() as session:
        board = (await boards.get_visible_many(session, actor, [board_id])).get(board_id)
        if board is None:
            return None
        node = BoardNode(model=board)
        if kind == events.SCORES_UPDATED:
            return ScoresUpdatedEvent(board=node, at=at)
        if kind == events.IDEA_SUBMITTED:
            idea = await _idea(session, actor, board, payload.get("ideaId"))
            return None if idea is None else IdeaSubmittedEvent(board=node, at=at, idea=IdeaNode(model=idea))
        if kind == events.STATUS_CHANGED:
            change = await _change(session, actor, board, payload.get("statusChangeId"))
            if change is None:
                return None
            return IdeaStatusChangedEvent(board=node, at=at, change=StatusChangeType(model=change))
        if kind == events.IDEA_MERGED:
            source = await _idea(session, actor, board, payload.get("sourceId"))
            target = await _idea(session, actor, board, payload.get("targetId"))
            if source is None or target is None:
                return None
            return IdeasMergedEvent(board=node, at=at, source=IdeaNode(model=source), target=IdeaNode(model=target))
        if kind == events.CAMPAIGN_PHASE_CHANGED:
            found = await campaigns.get_visible_many(session, actor, [int(payload.get("campaignId") or 0)])
            campaign = next(iter(found.values()), None)
            phases = {p.value: p for p in CampaignPhase}
            before, after = phases.get(str(payload.get("from"))), phases.get(str(payload.get("to")))
            if campaign is None or campaign.board_id != board.id or before is None or after is None:
                return None
            return CampaignPhaseChangedEvent(
                board=node, at=at, campaign=CampaignNode(model=campaign), from_=before, to=after
            )
    return None


async def _idea(session: AsyncSession, actor: Actor, board: Board, idea_id: object) -> Idea | None:
    if not isinstance(idea_id, int):
        return None
    idea = (await ideas.get_visible_many(session, actor, [idea_id])).get(idea_id)
    return idea if idea is not None and idea.board_id == board.id else None


async def _change(session: AsyncSession, actor: Actor, board: Board, change_id: object) -> StatusChange | None:
    if not isinstance(change_id, int):
        return None
    change = await lifecycle.get_change(session, actor, change_id)
    if change is None or await _idea(session, actor, board, change.idea_id) is None:
        return None
    return change


def _when(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return utcnow()

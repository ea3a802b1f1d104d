"""Supporters and launch credit (issue 15, items 4 and 5): UP votes follow, who may list supporters, the
thank-you at launch, contributions and notification settings, through the GraphQL API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from ideaengine.platform.models import Notification, NotificationKind, NotificationSetting, User, WebhookDelivery
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea, idea_id, vote
from tests.api.test_permissions import World

SETTINGS = "{ viewer { notificationSettings { email digest followOnVote } } }"
UPDATE_SETTINGS = """mutation($i: UpdateNotificationSettingsInput!) { updateNotificationSettings(input: $i) {
    settings { email digest followOnVote } userErrors { code field message } } }"""
FOLLOW = "mutation($i: FollowIdeaInput!) { followIdea(input: $i) { userErrors { code } } }"
NOTIFICATIONS = "{ viewer { notifications(first: 20) { edges { node { kind message idea { id } } } } } }"
SUPPORTERS = """query($id: ID!) { idea(id: $id) { supporterCount
    supporters(first: 10) { totalCount edges { node { name } } } } }"""
CONTRIBUTIONS = """query($id: ID!) { node(id: $id) { ... on User {
    contributions { ideasSubmitted ideasLaunched supportedLaunched } } } }"""
MERGE = "mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code field } } }"
MODERATE = "mutation($i: ModerateContentInput!) { moderateContent(input: $i) { userErrors { code } } }"
DEFAULTS = {"email": True, "digest": "INSTANT", "followOnVote": True}


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


async def kinds(api: Api, auth: str) -> list[tuple[str, str]]:
    edges = (await api(NOTIFICATIONS, auth=auth))["data"]["viewer"]["notifications"]["edges"]
    return [(e["node"]["kind"], e["node"]["message"]) for e in edges]


async def launch(api: Api, ws: Workspace, target: str, note: str | None = None) -> None:
    mod = ws.token("mia", role="moderator", name="Mia")
    for status in ("UNDER_REVIEW", "PLANNED", "IN_PROGRESS"):
        assert (await change_status(api, mod, target, status))["userErrors"] == []
    assert (await change_status(api, mod, target, "LAUNCHED", note))["userErrors"] == []


async def settings_of(api: Api, auth: str | None) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await api(SETTINGS, auth=auth))["data"]["viewer"]["notificationSettings"]
    return found


async def update_settings(api: Api, auth: str | None, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await api(UPDATE_SETTINGS, {"i": fields}, auth=auth))["data"][
        "updateNotificationSettings"
    ]
    return payload


# --- an UP vote follows --------------------------------------------------------------------------


async def test_an_up_vote_follows_and_withdrawing_it_does_not_unfollow(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    assert (await vote(api, bob, target, "UP"))["userErrors"] == []
    assert (await idea(api, bob, target, "followerCount viewerFollows")) == {"followerCount": 2, "viewerFollows": True}
    await vote(api, bob, target, None)
    assert (await idea(api, bob, target, "followerCount viewerFollows supporterCount")) == {
        "followerCount": 2,
        "viewerFollows": True,
        "supporterCount": 0,
    }
    await vote(api, bob, target, "UP")  # again: still one follow
    assert (await idea(api, bob, target, "followerCount supporterCount")) == {"followerCount": 2, "supporterCount": 1}


async def test_a_down_vote_does_not_follow(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    await vote(api, bob, target, "DOWN")
    assert (await idea(api, bob, target, "followerCount viewerFollows")) == {"followerCount": 1, "viewerFollows": False}


async def test_an_up_vote_does_not_refollow_what_the_user_unfollowed_by_hand_until_they_vote_up_again(
    api: Api, ws: Workspace, board: str
) -> None:
    """Unfollowing is the user's choice: keeping an UP vote does not undo it; only a new UP vote follows."""
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    await vote(api, bob, target, "UP")
    await api(FOLLOW, {"i": {"ideaId": target, "follow": False}}, auth=bob)
    await vote(api, bob, target, "UP")  # the same vote again changes nothing
    assert (await idea(api, bob, target, "followerCount viewerFollows")) == {"followerCount": 1, "viewerFollows": False}


async def test_with_follow_on_vote_off_an_up_vote_does_not_follow(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    bob = ws.token("bob")
    assert (await update_settings(api, bob, followOnVote=False))["userErrors"] == []
    await vote(api, bob, target, "UP")
    assert (await idea(api, bob, target, "followerCount viewerFollows supporterCount")) == {
        "followerCount": 1,
        "viewerFollows": False,
        "supporterCount": 1,
    }


# --- notification settings ---------------------------------------------------------------------


async def test_settings_have_defaults_and_change_field_by_field(api: Api, ws: Workspace) -> None:
    bob = ws.token("bob")
    assert await settings_of(api, bob) == DEFAULTS
    assert await update_settings(api, bob, digest="WEEKLY") == {
        "settings": {**DEFAULTS, "digest": "WEEKLY"},
        "userErrors": [],
    }
    changed = {"email": False, "digest": "WEEKLY", "followOnVote": False}
    assert await update_settings(api, bob, email=False, followOnVote=False) == {"settings": changed, "userErrors": []}
    assert await update_settings(api, bob) == {"settings": changed, "userErrors": []}  # nothing given
    explicit_nulls = await update_settings(api, bob, email=None, digest=None, followOnVote=None)
    assert explicit_nulls == {"settings": changed, "userErrors": []}
    assert await settings_of(api, bob) == changed
    assert await settings_of(api, ws.token("carol")) == DEFAULTS  # someone else's are their own


async def test_an_api_key_user_has_settings_too(api: Api, ws: Workspace) -> None:
    assert (await update_settings(api, ws.api_key, email=False))["settings"] == {**DEFAULTS, "email": False}


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_updates_settings"),
        pytest.param("banned", "FORBIDDEN", id="banned_member_updates_settings"),
    ],
)
async def test_who_may_not_update_settings(api: Api, ws: Workspace, services: Any, actor: str, code: str) -> None:
    auth = None
    if actor == "banned":
        auth = ws.token("bob")
        await settings_of(api, auth)  # signs bob in, so the user exists
        user = (await api("{ viewer { user { id } } }", auth=auth))["data"]["viewer"]["user"]["id"]
        ban = "mutation($i: BanUserInput!) { banUser(input: $i) { userErrors { code } } }"
        assert (await api(ban, {"i": {"userId": user}}, auth=ws.api_key))["data"]["banUser"]["userErrors"] == []
    payload = await update_settings(api, auth, email=False)
    assert payload["settings"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, [])]
    assert await settings_of(api, auth) is None  # anonymous, and a banned user reads like anonymous
    async with services.db.read() as session:
        assert (await session.execute(select(NotificationSetting))).scalars().all() == []


# --- who may list supporters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        pytest.param("anonymous", "UNAUTHENTICATED", id="anonymous_lists_supporters"),
        pytest.param("member", "FORBIDDEN", id="member_lists_supporters"),
        pytest.param("author", "FORBIDDEN", id="author_lists_supporters"),
        pytest.param("moderator", None, id="moderator_lists_supporters"),
        pytest.param("admin", None, id="admin_lists_supporters"),
        pytest.param("other_workspace_member", "UNAUTHENTICATED", id="other_workspace_member_lists_supporters"),
        pytest.param("other_workspace_admin", "UNAUTHENTICATED", id="other_workspace_admin_lists_supporters"),
    ],
)
async def test_supporters_are_listed_for_moderators_and_admins_only(
    api: Api, services: Any, ws: Workspace, actor: str, code: str | None
) -> None:
    world = World(api, services, ws)
    target = await world.idea()
    await vote(api, ws.token("carol"), target, "UP")
    await vote(api, ws.token("dan"), target, "UP")
    await vote(api, ws.token("erin"), target, "DOWN")
    body = await api(SUPPORTERS, {"id": target}, auth=await world.auth(actor), expect_errors=code is not None)
    if code is None:
        assert "errors" not in body
        assert body["data"]["idea"] == {
            "supporterCount": 2,
            "supporters": {"totalCount": 2, "edges": [{"node": {"name": "Carol"}}, {"node": {"name": "Dan"}}]},
        }
    else:
        assert body["data"]["idea"] == {"supporterCount": 2, "supporters": None}  # the count is public
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["idea", "supporters"], code)]


async def test_supporters_include_those_merged_in_from_a_duplicate(api: Api, ws: Workspace, board: str) -> None:
    alice = ws.token("alice")
    source = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    await vote(api, ws.token("carol"), target, "UP")
    await vote(api, ws.token("dan"), source, "UP")
    merged = await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key)
    assert merged["data"]["mergeIdeas"]["userErrors"] == []
    body = await api(SUPPORTERS, {"id": target}, auth=ws.api_key)
    assert body["data"]["idea"] == {
        "supporterCount": 2,
        "supporters": {"totalCount": 2, "edges": [{"node": {"name": "Carol"}}, {"node": {"name": "Dan"}}]},
    }


# --- credit on launch ------------------------------------------------------------------------


BODY = "Every store should carry oat milk, for people who cannot drink cow's milk."
SUPPORTER_THANKS = (
    "“Oat milk in every store” has launched, and you helped build it. Thank you for your support! "
    f"The idea: “{BODY}” From the team: In all 40 stores from Monday."
)
AUTHOR_THANKS = (
    "Your idea “Oat milk in every store” has launched. Thank you for suggesting it: you helped build this. "
    f"The idea: “{BODY}” From the team: In all 40 stores from Monday."
)
LAUNCHED = "“Oat milk in every store” is now launched. In all 40 stores from Monday."


async def test_launch_thanks_the_author_and_every_supporter_once_including_merged_ones(
    api: Api, ws: Workspace, board: str
) -> None:
    alice, carol, dan, erin, finn = (ws.token(n) for n in ("alice", "carol", "dan", "erin", "finn"))
    target = await idea_id(api, alice, board, "Oat milk in every store", body=BODY)
    source = await idea_id(api, finn, board, "Please stock oat milk at all locations")
    await vote(api, carol, target, "UP")  # a supporter, following by her vote
    await vote(api, dan, source, "UP")  # a supporter merged in from the duplicate
    await update_settings(api, erin, followOnVote=False)
    await vote(api, erin, target, "UP")  # a supporter who does not follow
    await vote(api, finn, target, "DOWN")  # not a supporter, but he follows (his idea was merged in)
    assert (await api(MERGE, {"i": {"sourceId": source, "targetId": target}}, auth=ws.api_key))["data"]["mergeIdeas"][
        "userErrors"
    ] == []
    await launch(api, ws, target, "In all 40 stores from Monday.")

    assert (await kinds(api, alice))[0] == ("SUPPORTED_IDEA_LAUNCHED", AUTHOR_THANKS)
    for supporter in (carol, dan, erin):
        launched = [k for k in await kinds(api, supporter) if "launched" in k[1]]
        assert launched == [("SUPPORTED_IDEA_LAUNCHED", SUPPORTER_THANKS)]  # once, not also as a follower
    assert [k for k in await kinds(api, finn) if "launched" in k[1]] == [("STATUS_CHANGED", LAUNCHED)]
    assert await kinds(api, ws.token("mia", role="moderator")) == []  # who launched it is not thanked


STEPS = ("in progress", "planned", "under review")
"The status changes before a launch, as a follower hears them (newest first)."


async def test_a_launch_without_words_or_note_thanks_in_short(api: Api, ws: Workspace, board: str) -> None:
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await vote(api, ws.token("carol"), target, "UP")
    await launch(api, ws, target)
    assert await kinds(api, ws.token("carol")) == [
        (
            "SUPPORTED_IDEA_LAUNCHED",
            "“Oat milk in every store” has launched, and you helped build it. Thank you for your support!",
        )
    ] + [("STATUS_CHANGED", f"“Oat milk in every store” is now {s}.") for s in STEPS]


async def test_a_hidden_idea_launching_thanks_only_its_author(api: Api, ws: Workspace, board: str) -> None:
    """Supporters cannot read a hidden idea: nothing about it reaches them, not even a thank-you."""
    alice, carol = ws.token("alice"), ws.token("carol")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    await vote(api, carol, target, "UP")
    assert (await api(MODERATE, {"i": {"subjectId": target, "action": "HIDE"}}, auth=ws.api_key))["data"] == {
        "moderateContent": {"userErrors": []}
    }
    await launch(api, ws, target)
    assert next(k for k, _ in await kinds(api, alice)) == "SUPPORTED_IDEA_LAUNCHED"
    assert await kinds(api, carol) == []


async def test_launch_credit_goes_out_as_a_webhook_naming_who_is_thanked(
    api: Api, ws: Workspace, board: str, services: Any
) -> None:
    hook = await api(
        "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { code } } }",
        {"i": {"url": "https://93.184.215.14/hooks", "events": ["IDEA_LAUNCH_CREDITED"]}},
        auth=ws.api_key,
    )
    assert hook["data"]["createWebhook"]["userErrors"] == []
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store", body=BODY)
    await vote(api, ws.token("carol"), target, "UP")
    await launch(api, ws, target, "From Monday.")
    async with services.db.read() as session:
        sent = (await session.execute(select(WebhookDelivery))).scalars().all()
    assert [d.event for d in sent] == ["idea.launch_credited"]
    data = json.loads(sent[0].payload)["data"]
    assert (data["idea"]["id"], data["idea"]["status"], data["body"], data["note"]) == (
        target,
        "LAUNCHED",
        BODY,
        "From Monday.",
    )
    assert (data["author"]["externalId"], data["author"]["name"]) == ("alice", "Alice")
    assert [(p["externalId"], p["name"]) for p in data["supporters"]] == [("carol", "Carol")]


# --- contributions -------------------------------------------------------------------------


async def user_id(api: Api, auth: str) -> str:
    return str((await api("{ viewer { user { id } } }", auth=auth))["data"]["viewer"]["user"]["id"])


async def contributions(api: Api, auth: str | None, user: str) -> dict[str, int]:
    found: dict[str, int] = (await api(CONTRIBUTIONS, {"id": user}, auth=auth))["data"]["node"]["contributions"]
    return found


async def test_contributions_count_what_a_user_wrote_launched_and_supported(
    api: Api, ws: Workspace, board: str
) -> None:
    alice, carol = ws.token("alice"), ws.token("carol")
    launched = await idea_id(api, alice, board, "Oat milk in every store")
    await idea_id(api, alice, board, "Longer opening hours on Sundays")
    backed = await idea_id(api, carol, board, "Bike racks at every store")
    await vote(api, alice, backed, "UP")
    await vote(api, carol, launched, "UP")
    await launch(api, ws, launched)
    await launch(api, ws, backed)
    assert await contributions(api, None, await user_id(api, alice)) == {
        "ideasSubmitted": 2,
        "ideasLaunched": 1,
        "supportedLaunched": 1,
    }
    assert await contributions(api, None, await user_id(api, carol)) == {
        "ideasSubmitted": 1,
        "ideasLaunched": 1,
        "supportedLaunched": 1,
    }


async def test_contributions_count_a_hidden_idea_only_for_those_who_may_read_it(
    api: Api, ws: Workspace, board: str
) -> None:
    alice = ws.token("alice")
    target = await idea_id(api, alice, board, "Oat milk in every store")
    await idea_id(api, alice, board, "Longer opening hours on Sundays")
    await api(MODERATE, {"i": {"subjectId": target, "action": "HIDE"}}, auth=ws.api_key)
    alice_id = await user_id(api, alice)
    assert (await contributions(api, ws.token("bob"), alice_id))["ideasSubmitted"] == 1
    assert (await contributions(api, alice, alice_id))["ideasSubmitted"] == 1  # taken down for its author too
    assert (await contributions(api, ws.token("mona", role="moderator"), alice_id))["ideasSubmitted"] == 2
    assert (await contributions(api, ws.api_key, alice_id))["ideasSubmitted"] == 2


async def test_an_erased_supporter_is_neither_thanked_nor_kept_with_settings(
    api: Api, ws: Workspace, board: str, services: Any
) -> None:
    """Erasure forgets the person: no thank-you is written for them, their settings go, their vote still counts."""
    carol = ws.token("carol")
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await vote(api, carol, target, "UP")
    await update_settings(api, carol, email=False)
    erase = "mutation($i: EraseUserInput!) { eraseUser(input: $i) { userErrors { code } } }"
    erased = await api(erase, {"i": {"userId": await user_id(api, carol)}}, auth=ws.api_key)
    assert erased["data"]["eraseUser"]["userErrors"] == []
    await launch(api, ws, target)
    async with services.db.read() as session:
        assert (await session.execute(select(NotificationSetting))).scalars().all() == []
        kinds_written = (
            (
                await session.execute(
                    select(Notification.kind).where(
                        Notification.user_id != select(User.id).where(User.external_id == "alice").scalar_subquery()
                    )
                )
            )
            .scalars()
            .all()
        )
    assert NotificationKind.SUPPORTED_IDEA_LAUNCHED not in kinds_written
    assert (await idea(api, None, target, "supporterCount")) == {"supporterCount": 1}

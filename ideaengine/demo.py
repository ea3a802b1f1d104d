"""`ideaengine demo`: a coffee-shop chain's idea board with people, votes, comparisons, answers and a launch.

Everything is written through the domain services, so the demo obeys the same rules as the API. It is
idempotent (DECISIONS.md 5): ideas whose title is already on the board are left alone with all their
activity, and every run issues a fresh API key, since stored keys are hashed and cannot be shown again. The
fresh key replaces the one the last run printed (the workspace's key named DEMO_KEY_NAME), so runs do not
pile up keys. It also prints a day's SSO tokens of a customer and a moderator, for the board's try page.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict, TypeVar

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import (
    apikeys,
    boards,
    comments,
    comparisons,
    demo_campaigns,
    follows,
    ideas,
    identity,
    lifecycle,
    votes,
    workspaces,
)
from ideaengine.identity import Actor, ActorRole
from ideaengine.platform.models import Base, Board, DuplicateSensitivity, Idea, IdeaStatus, Workspace
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.platform.services import Services
from ideaengine.platform.settings import Settings, SettingsError
from ideaengine.platform.unit_of_work import UnitOfWork

WORKSPACE_SLUG = "demo"
BOARD_SLUG = "ideas"
DEMO_KEY_NAME = "demo"
"The label of the demo's own admin key: each run gives it a new secret, and the previous one stops working."
BRAND = "Driftwood Coffee"
BOARD_NAME = f"{BRAND} customer ideas"
BOARD_DESCRIPTION = (
    f"What would make your visit to {BRAND} better? Share an idea, vote, compare ideas head to head, "
    "and follow along as we review, plan, build and launch them in our 42 stores and the app."
)
SEED = 42
"Fixes every random choice (who votes, how, which pairs are compared), so each fresh demo is the same."
COMPARISONS_PER_MEMBER = 8
FOLLOW_SHARE = 0.3
"Share of up-voters who also follow the idea."
TOKEN_TTL_SECONDS = 300
"Life of the SSO tokens the demo signs to provision its people; they are used at once and never shown."
PRINTED_TOKEN_TTL_SECONDS = 24 * 3600
"Life of the SSO tokens the demo prints for the try page: a day, or the server's longest if that is shorter."
PROGRESS_EVERY = 10
"A long step reports after every this many items, and after its last."

Progress = Callable[[str, int, int], None]
"Told (step, done, total) as the seed works through a step (on PostgreSQL the whole seed takes seconds)."
T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    sub: str
    "The host app's user id (the SSO token's `sub`)."
    name: str
    email: str


@dataclass(frozen=True)
class IdeaSpec:
    key: str
    author: int
    "Index into MEMBERS."
    appeal: float
    "Log-odds that a member likes it: drives both up/down votes and pairwise verdicts."
    reach: float
    "Share of members who vote on it: low for new or niche ideas."
    title: str
    body: str
    tags: tuple[str, ...]


MEMBERS = tuple(
    Person(f"dw-{1001 + i}", name, f"{name.split()[0].lower()}.{name.split()[-1].lower()}@example.com")
    for i, name in enumerate(
        (
            "Priya Natarajan",
            "Tom Becker",
            "Aisha Bello",
            "Lucas Moreau",
            "Mei Lin",
            "Diego Alvarez",
            "Hannah Schultz",
            "Kwame Mensah",
            "Sofia Rossi",
            "Jonas Lindqvist",
            "Fatima Haddad",
            "Ben Carter",
            "Yuki Tanaka",
            "Olivia Brooks",
            "Rahul Mehta",
        )
    )
)
MODERATOR = Person("dw-staff-sam", f"Sam Rivera ({BRAND})", "sam.rivera@example.com")
VISITOR = MEMBERS[0]
"Whose token the demo prints for trying the board as a customer: she has ideas, votes and notifications."

S = IdeaSpec
# fmt: off
IDEAS: tuple[IdeaSpec, ...] = (
    S("oat-milk", 0, 2.0, 0.8, "Oat milk in every store",
      "Oat milk is only at the downtown stores. I'm lactose intolerant and it's a gamble every time I visit "
      "a different Driftwood.", ("menu", "dairy-free")),
    S("oat-milk-all", 2, 1.8, 0.35, "Please stock oat milk at all locations",
      "Went to the airport store and the harbour store this week and neither had any plant milk. "
      "It should be standard, not a downtown perk.", ("menu", "plant-based")),
    S("pumpkin", 3, 1.2, 0.6, "Bring back the pumpkin spice cold brew",
      "It was the best thing on the autumn menu two years ago. Please bring it back this September!",
      ("menu", "seasonal")),
    S("pumpkin-again", 8, 1.1, 0.3, "Return of the seasonal pumpkin cold brew, please!",
      "Last fall you had a pumpkin cold brew with spiced foam and then it vanished. Any chance it comes back "
      "this year?", ("seasonal", "cold-brew")),
    S("decaf-cold-brew", 4, 1.0, 0.4, "Decaf cold brew",
      "I love cold brew in the afternoon but can't handle the caffeine after 3pm.", ("menu", "decaf")),
    S("gluten-free", 10, 1.4, 0.5, "Gluten-free pastries",
      "The almond cookie is the only gluten-free item. A GF muffin or banana bread would be great for those "
      "of us with coeliac disease.", ("menu", "bakery", "gluten-free")),
    S("kids-cocoa", 13, 0.8, 0.35, "Kids' size hot chocolate",
      "The small hot chocolate is too big and too hot for my five-year-old. A kids' cup at a lower "
      "temperature and price, please.", ("menu", "kids")),
    S("matcha", 6, 0.2, 0.7, "Add a matcha latte to the menu",
      "Half my office walks past Driftwood to get matcha elsewhere. Ceremonial grade, oat milk, not too sweet.",
      ("menu", "tea")),
    S("unsweetened-chai", 9, 0.6, 0.5, "Unsweetened chai option",
      "The chai concentrate is very sweet. Let us choose the sweetness, or offer a spiced tea-bag chai.",
      ("menu", "tea", "health")),
    S("breakfast", 11, 1.3, 0.6, "Savoury breakfast options",
      "Everything in the pastry case is sweet. A breakfast sandwich or egg bites would make Driftwood my "
      "breakfast stop too.", ("menu", "food")),
    S("order-ahead", 1, 2.2, 0.85, "Let me order ahead in the app",
      "I'd love to order on my way and pick it up at the counter. Mornings at Harbour Street are a "
      "15-minute queue.", ("app", "ordering")),
    S("skip-the-line", 5, 2.0, 0.4, "Mobile ordering so I can skip the line",
      "Please add pickup ordering to the app. I'd happily pay in advance if it means not waiting in line "
      "before work.", ("app", "mobile")),
    S("dark-mode", 12, 0.9, 0.45, "Dark mode for the app",
      "The app is blinding at 6am. A dark theme that follows the phone setting would be lovely.",
      ("app", "design")),
    S("favourites", 7, 1.5, 0.5, "Save my usual order",
      "I get the same flat white with an extra shot every day. One-tap reorder of favourites, please.",
      ("app", "ordering")),
    S("busy-meter", 14, 0.7, 0.4, "Show how busy a store is right now",
      "A live 'how busy' indicator so I can pick the quieter store nearby.", ("app", "stores")),
    S("wallet-pay", 2, 1.6, 0.55, "Apple Pay and Google Pay in the app",
      "Topping up the app balance by card every week is tedious. Let me pay with my phone's wallet.",
      ("app", "payments")),
    S("tipping", 8, -0.1, 0.6, "Tip the barista in the app",
      "I never carry cash any more, so I can never tip. Add a tip option when I pay in the app.",
      ("app", "payments", "tipping")),
    S("points-expiry", 0, 1.3, 0.6, "Loyalty points that never expire",
      "My stamps expired after six months even though I come in every week. Points shouldn't expire for "
      "active members.", ("loyalty",)),
    S("birthday", 5, 1.6, 0.65, "Free drink on your birthday",
      "A birthday drink would make me finally sign up for the loyalty card.", ("loyalty",)),
    S("byo-cup", 3, 1.7, 0.7, "Discount for bringing your own cup",
      "Give 25p off when I bring my own reusable cup, like other chains do. Good for the planet and my wallet.",
      ("sustainability", "loyalty")),
    S("reusable-reward", 9, 1.5, 0.3, "Reward customers who use reusable mugs",
      "Could the loyalty card give a bonus stamp whenever I bring my own mug? It would encourage more people "
      "to skip paper cups.", ("sustainability", "rewards")),
    S("family-account", 13, 0.5, 0.15, "Family loyalty account",
      "Let my partner and me pool our points on one account instead of two half-full cards.", ("loyalty",)),
    S("power-outlets", 5, 0.1, 0.7, "More power outlets for laptop workers",
      "The Canal Street store has two outlets for forty seats. Outlets under the long bench would fix it.",
      ("stores", "remote-work")),
    S("laptop-free", 12, -0.2, 0.6, "Laptop-free tables at weekends",
      "On Saturdays every table is taken by laptops for hours. A few laptop-free tables for people who want "
      "to sit and chat.", ("stores",)),
    S("open-earlier", 6, 0.9, 0.45, "Open at 6:30 on weekdays",
      "Opening at 6:30 instead of 7:00 would catch the commuter crowd at the Station store.",
      ("stores", "hours")),
    S("dog-patio", 4, 0.8, 0.4, "Dog-friendly patios",
      "Water bowls and a couple of hooks on the patio so I can bring my dog along on walks.", ("stores", "dogs")),
    S("quiet-hour", 10, 0.9, 0.3, "Quiet hour for sensory-sensitive customers",
      "One hour a week with the music off and the lights dimmed, like some supermarkets do.",
      ("accessibility", "stores")),
    S("step-free", 10, 1.2, 0.35, "Step-free access at the Old Town store",
      "The two steps at the Old Town entrance make it impossible for me in my wheelchair. A ramp would help "
      "a lot.", ("accessibility",)),
    S("late-night", 14, 0.2, 0.4, "24-hour store near the university",
      "During exams there's nowhere to study after 10pm. A 24/7 Driftwood near campus would be packed.",
      ("stores", "hours", "students")),
    S("compostable-lids", 7, 1.1, 0.5, "Compostable lids",
      "The cups are compostable but the plastic lids aren't, so the whole thing goes in general waste.",
      ("sustainability",)),
    S("coffee-grounds", 11, 0.7, 0.2, "Give away used coffee grounds for gardens",
      "Bag up the used grounds for customers to take home for compost. My tomatoes would thank you.",
      ("sustainability", "garden")),
    S("pastry-donation", 1, 1.4, 0.5, "Donate unsold pastries at closing",
      "It hurts to see the pastry case emptied into the bin. Partner with a food bank or an app like "
      "Too Good To Go.", ("sustainability", "community")),
    S("latte-art", 6, 0.6, 0.25, "Latte art workshops",
      "An evening class with the baristas. I'd pay for it and bring friends.", ("events",)),
    S("tasting-nights", 3, 0.7, 0.2, "Monthly single-origin tasting nights",
      "A cupping evening once a month with the roasters, trying the new single origins side by side.",
      ("events", "coffee")),
    S("roast-date", 9, 1.0, 0.15, "Print the roast date on retail beans",
      "The bags only show a best-before date. The roast date tells me far more about freshness.",
      ("coffee", "beans")),
    S("csv-export", 12, 0.6, 0.3, "Export reports to CSV",
      "Let me export my monthly spending reports from the app to a CSV file for my expense claims.",
      ("app", "receipts")),
    S("csv-download", 7, 0.5, 0.2, "CSV download of reports",
      "A CSV download of my monthly spending reports in the app, please: my expense claims need it.",
      ("app", "receipts")),
)
# fmt: on
del S

DUPLICATES: tuple[tuple[str, str], ...] = (
    ("oat-milk", "oat-milk-all"),
    ("pumpkin", "pumpkin-again"),
    ("order-ahead", "skip-the-line"),
    ("byo-cup", "reusable-reward"),
    ("csv-export", "csv-download"),
)
"Pairs phrased differently that mean the same, for the duplicate finder; the first is merged below."
CLUSTERED = ("csv-export", "csv-download")
"The obvious pair the board's duplicate clusters show (the board's sensitivity is HIGH, as a small board affords)."
SENSITIVITY = DuplicateSensitivity.HIGH
MERGE = ("oat-milk-all", "oat-milk")
"Source, target."

_PATHS = {
    IdeaStatus.UNDER_REVIEW: (IdeaStatus.UNDER_REVIEW,),
    IdeaStatus.PLANNED: (IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED),
    IdeaStatus.IN_PROGRESS: (IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED, IdeaStatus.IN_PROGRESS),
    IdeaStatus.LAUNCHED: (IdeaStatus.UNDER_REVIEW, IdeaStatus.PLANNED, IdeaStatus.IN_PROGRESS, IdeaStatus.LAUNCHED),
    IdeaStatus.DECLINED: (IdeaStatus.UNDER_REVIEW, IdeaStatus.DECLINED),
}
STATUSES: dict[str, tuple[IdeaStatus, str | None]] = {
    "gluten-free": (IdeaStatus.UNDER_REVIEW, None),
    "points-expiry": (IdeaStatus.UNDER_REVIEW, None),
    "step-free": (IdeaStatus.UNDER_REVIEW, None),
    "oat-milk": (IdeaStatus.PLANNED, "Coming to every store in March, at no extra charge."),
    "wallet-pay": (IdeaStatus.PLANNED, None),
    "byo-cup": (IdeaStatus.PLANNED, "25p off every drink in your own cup, from Earth Day."),
    "breakfast": (IdeaStatus.IN_PROGRESS, None),
    "order-ahead": (IdeaStatus.IN_PROGRESS, "In beta at Harbour Street and Canal Street."),
    "favourites": (IdeaStatus.LAUNCHED, "Live in app version 4.2."),
    "late-night": (
        IdeaStatus.DECLINED,
        "We can't staff a store safely through the night. Instead the University store now stays open "
        "until 11pm during exam weeks.",
    ),
}
"The status each idea ends in, reached through every allowed step; the note goes with the last one."

MEMBER_COMMENTS: tuple[tuple[str, int, str], ...] = (
    ("oat-milk", 2, "Same at the Station store: they had run out by 9am twice this week."),
    ("order-ahead", 4, "Yes please, especially at Harbour Street. The line is out of the door at 8:15."),
    ("order-ahead", 8, "As long as app orders don't jump ahead of the people already waiting in the store."),
    ("matcha", 9, "I'd rather the menu stayed focused on coffee, to be honest."),
    ("matcha", 10, "Strong disagree, half my office drinks matcha every day."),
    ("laptop-free", 5, "As someone who works from your stores most mornings: please don't!"),
    ("laptop-free", 12, "I'd love this. Weekends feel like an open-plan office."),
    ("tipping", 6, "I'd rather the prices just paid the staff properly."),
    ("tipping", 13, "I always want to tip and never have cash. Please add it."),
    ("step-free", 13, "It's my closest store and I can't get in with a pram either."),
    ("byo-cup", 7, "Other chains do 25p off; matching that would be great."),
    ("pumpkin", 6, "The spiced foam was the best part."),
    ("birthday", 11, "This would get me to sign up for the loyalty card."),
    ("favourites", 1, "Just tried it and it works great. Thank you!"),
)
"(idea, member, text)."
OFFICIAL_ANSWERS: tuple[tuple[str, str], ...] = (
    ("oat-milk", "Thanks everyone! Oat milk arrives in all 42 stores in March. We'll post here when it starts."),
    (
        "order-ahead",
        "Order-ahead is in beta at Harbour Street and Canal Street. If it holds up, every store gets it this spring.",
    ),
    ("favourites", "Favourites are live in app version 4.2: tap the heart on any past order to reorder it."),
    ("gluten-free", "We're trialling two bakes from a certified gluten-free bakery and will share the results."),
    (
        "step-free",
        "Thank you for raising this. We're asking the landlord for a permanent ramp; a portable one "
        "is on order in the meantime.",
    ),
)
"(idea, text), posted by the moderator after the status changes."


class DemoTokens(TypedDict):
    """SSO tokens to paste into the try page: VISITOR's (a member) and MODERATOR's."""

    visitor: str
    moderator: str


class Seeded(TypedDict):
    """What the seed itself makes; `seed` adds where the server answers."""

    workspace: str
    board: str
    apiKey: str
    ssoSecret: str
    tokens: DemoTokens


Demo = TypedDict(
    "Demo",
    {
        "workspace": str,
        "board": str,
        "apiKey": str,
        "ssoSecret": str,
        "tokens": DemoTokens,
        "graphql": str,
        "embed": str,
        "try": str,
    },
)
"What `ideaengine demo` prints (as JSON): the key names are read by the README and by scripts."


async def seed(
    settings: Settings, graphql_url: str = "http://127.0.0.1:8000/graphql", progress: Progress | None = None
) -> Demo:
    """Seed (or top up) the demo workspace and board; returns a fresh API key (the previous run's stops
    working), the SSO secret, SSO tokens of a visitor and a moderator (PRINTED_TOKEN_TTL_SECONDS, at most the
    server's longest) and where `serve` will answer (`graphql_url`, which the CLI builds from the host and port
    it is given), show the board (`embed`) and its try page (`try`, where a token is pasted to sign in).
    `progress` hears how far each step is (the CLI prints it), never a step with nothing to do."""
    services = Services.create(settings)
    # No jobs: hundreds of writes would each ask for a score refresh and a reindex. The server's
    # periodic sweep refreshes boards whose scores are older than their last write.
    work = UnitOfWork(services.db, queue=None, broker=services.broker)
    ttl = min(PRINTED_TOKEN_TTL_SECONDS, settings.sso_max_token_lifetime_seconds)
    try:
        async with work.transaction() as session:
            seeded = await _seed(session, services.box, progress or _quiet, ttl)
        await services.db.analyze([table.name for table in Base.metadata.sorted_tables])
    finally:
        await services.close()
    embed = graphql_url.removesuffix("/graphql") + f"/embed/{WORKSPACE_SLUG}/{BOARD_SLUG}"
    return {**seeded, "graphql": graphql_url, "embed": embed, "try": embed + "/try"}


def _quiet(step: str, done: int, total: int) -> None:
    pass


def _steps(progress: Progress, step: str, items: Sequence[T]) -> Iterator[T]:
    """The items of one step; once the loop's body is done with every PROGRESS_EVERY-th and with the last,
    `progress` hears how far the step is."""
    for n, item in enumerate(items, 1):
        yield item
        if n % PROGRESS_EVERY == 0 or n == len(items):
            progress(step, n, len(items))


async def _seed(session: AsyncSession, box: SecretBox, progress: Progress, token_ttl: float) -> Seeded:
    workspace = await workspaces.get_by_slug(session, WORKSPACE_SLUG)
    if workspace is None:
        workspace = (await workspaces.create_workspace(session, box, WORKSPACE_SLUG, BRAND)).workspace
    api_key = (await apikeys.reissue(session, workspace.id, DEMO_KEY_NAME)).secret
    admin = await identity.actor_for_api_key(session, api_key)
    try:
        sso_secret = box.open(workspace.sso_secret_encrypted)
    except ValueError:
        raise SettingsError(
            "IDEAENGINE_SECRET_KEY: not the key the demo workspace's SSO secret was encrypted with"
        ) from None
    board = await _board(session, admin, workspace.id)
    members = [await _sign_in(session, box, workspace, sso_secret, p, "member") for p in MEMBERS]
    moderator = await _sign_in(session, box, workspace, sso_secret, MODERATOR, "moderator")

    existing = set((await session.execute(select(Idea.title).where(Idea.board_id == board.id))).scalars())
    fresh: dict[str, int] = {}  # ideas submitted by this run: only they get votes, comments, statuses...
    for spec in _steps(progress, "submitting ideas", [s for s in IDEAS if s.title not in existing]):
        idea = await ideas.submit(session, members[spec.author], board.id, spec.title, spec.body, spec.tags)
        fresh[spec.key] = idea.id

    rng = random.Random(SEED)
    await _vote(session, rng, members, fresh, progress)
    await _compare(session, rng, members, fresh, progress)
    for key, member, text in _steps(progress, "commenting", [c for c in MEMBER_COMMENTS if c[0] in fresh]):
        await comments.add_comment(session, members[member], fresh[key], text)
    for key, (status, note) in _steps(progress, "moving statuses", [s for s in STATUSES.items() if s[0] in fresh]):
        *steps, last = _PATHS[status]
        for step in steps:
            await lifecycle.change_status(session, moderator, fresh[key], step)
        await lifecycle.change_status(session, moderator, fresh[key], last, note)
    for key, text in _steps(progress, "answering", [a for a in OFFICIAL_ANSWERS if a[0] in fresh]):
        await comments.add_comment(session, moderator, fresh[key], text, official=True)
    source, target = MERGE
    if source in fresh and target in fresh:
        await lifecycle.merge_ideas(session, moderator, fresh[source], fresh[target])
    await demo_campaigns.seed(session, board, moderator, members)

    return {
        "workspace": workspace.slug,
        "board": board.slug,
        "apiKey": api_key,
        "ssoSecret": sso_secret,
        "tokens": {
            "visitor": _token(workspace, sso_secret, VISITOR, "member", token_ttl),
            "moderator": _token(workspace, sso_secret, MODERATOR, "moderator", token_ttl),
        },
    }


async def _board(session: AsyncSession, admin: Actor, workspace_id: int) -> Board:
    board = (
        await session.execute(select(Board).where(Board.workspace_id == workspace_id, Board.slug == BOARD_SLUG))
    ).scalar_one_or_none()
    if board is None:
        board = await boards.create_board(session, admin, workspace_id, BOARD_SLUG, BOARD_NAME, BOARD_DESCRIPTION)
        board = await boards.update_board(session, admin, board.id, duplicate_sensitivity=SENSITIVITY)
    return board


async def _sign_in(
    session: AsyncSession, box: SecretBox, workspace: Workspace, secret: str, person: Person, role: str
) -> Actor:
    """Provision the person the way an embedding app does: with an SSO token signed by the brand."""
    actor = await identity.actor_for_sso_token(session, _token(workspace, secret, person, role, TOKEN_TTL_SECONDS), box)
    if actor.role < ActorRole.MEMBER:
        raise RuntimeError(f"the demo's SSO token for {person.sub} was refused: {'; '.join(actor.auth_errors)}")
    return actor


def _token(workspace: Workspace, secret: str, person: Person, role: str, ttl: float) -> str:
    """The SSO token the brand's app would sign for `person`, living whole seconds within `ttl` of now."""
    now = int(time.time())
    claims = {
        "iss": workspace.slug,
        "sub": person.sub,
        "name": person.name,
        "email": person.email,
        "role": role,
        "iat": now,
        "exp": now + math.floor(ttl),
    }
    return jwt.encode(claims, secret, identity.SSO_ALGORITHM)


def _liking(appeal: float) -> float:
    return 1 / (1 + math.exp(-appeal))


async def _vote(
    session: AsyncSession, rng: random.Random, members: list[Actor], fresh: dict[str, int], progress: Progress
) -> None:
    """Authors back their own ideas; a reach's share of the others vote, an appeal's share of them up.

    Some up-voters follow the idea too, so status changes and answers reach more than the author."""
    for spec in _steps(progress, "voting on ideas", [s for s in IDEAS if s.key in fresh]):
        idea_id = fresh[spec.key]
        await votes.cast_vote(session, members[spec.author], idea_id, votes.UP)
        others = [m for i, m in enumerate(members) if i != spec.author]
        voters = rng.sample(others, round(spec.reach * len(others)))
        ups = round(len(voters) * _liking(spec.appeal))
        for n, member in enumerate(voters):
            await votes.cast_vote(session, member, idea_id, votes.UP if n < ups else votes.DOWN)
            if n < ups and rng.random() < FOLLOW_SHARE:
                await follows.follow(session, member, idea_id, True)


async def _compare(
    session: AsyncSession, rng: random.Random, members: list[Actor], fresh: dict[str, int], progress: Progress
) -> None:
    """Each member judges a few distinct pairs; the more appealing idea wins more often (Bradley-Terry)."""
    specs = [s for s in IDEAS if s.key in fresh]
    if len(specs) < 2:
        return
    wanted = min(COMPARISONS_PER_MEMBER, len(specs) * (len(specs) - 1) // 2)
    for member in _steps(progress, "comparing ideas (per member)", members):
        judged: set[frozenset[str]] = set()
        while len(judged) < wanted:
            a, b = rng.sample(specs, 2)
            if frozenset((a.key, b.key)) in judged:
                continue
            judged.add(frozenset((a.key, b.key)))
            winner, loser = (a, b) if rng.random() < _liking(a.appeal - b.appeal) else (b, a)
            await comparisons.compare(session, member, fresh[winner.key], fresh[loser.key])

"""Domain enums as the API names them; the domain never imports strawberry."""

from __future__ import annotations

import enum
from typing import Annotated

import strawberry

from ideaengine import ideas
from ideaengine.identity import ActorRole
from ideaengine.platform import models

IdeaStatus = Annotated[
    models.IdeaStatus,
    strawberry.enum(
        name="IdeaStatus",
        description="Where an idea is in its life: SUBMITTED -> UNDER_REVIEW -> PLANNED -> "
        "IN_PROGRESS -> LAUNCHED, or DECLINED (may reopen to UNDER_REVIEW), or MERGED into another idea.",
    ),
]

IdeaSort = Annotated[
    ideas.IdeaSort,
    strawberry.enum(name="IdeaSort", description="How a board's ideas are ordered. Ties break by newest, then id."),
]

BoardVisibility = Annotated[
    models.Visibility,
    strawberry.enum(
        name="BoardVisibility", description="PUBLIC boards are readable by anyone; PRIVATE by the workspace's users."
    ),
]

NotificationKind = Annotated[
    models.NotificationKind, strawberry.enum(name="NotificationKind", description="What happened to a followed idea.")
]

Role = Annotated[ActorRole, strawberry.enum(name="Role", description="What the viewer may do in a workspace.")]


@strawberry.enum(description="An up or down vote.")
class VoteValue(enum.Enum):
    UP = 1
    DOWN = -1

"""Domain enums as the API names them; the domain never imports strawberry."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Annotated

import strawberry
from strawberry.types.enum import EnumAnnotation, EnumType

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


@dataclasses.dataclass(frozen=True)
class DescribedEnum(EnumAnnotation):
    """`strawberry.enum` for a domain enum with a description for each value (the domain never imports
    strawberry, so the descriptions live here); a value left undescribed stops the schema from building."""

    values: tuple[tuple[str, str], ...] = ()

    def __call__(self, cls: EnumType) -> EnumType:
        processed = super().__call__(cls)
        described = dict(self.values)
        definition = processed.__strawberry_definition__  # type: ignore[attr-defined]
        missing = [value.name for value in definition.values if value.name not in described]
        if missing:
            raise ValueError(f"{definition.name}: describe {', '.join(missing)}")
        for value in definition.values:
            value.description = described[value.name]
        return processed


def described_enum(name: str, description: str, values: Mapping[str, str]) -> DescribedEnum:
    return DescribedEnum(name=name, description=description, values=tuple(values.items()))

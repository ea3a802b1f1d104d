"""A status change's webhook names the statuses in the board's own words too (issue 13, item 8)."""

from __future__ import annotations

import json
from typing import Any

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, idea_id
from tests.conftest import eventually
from tests.realtime.test_webhook_delivery import register, settings, settled

__all__ = ["settings"]
"The module's settings fixture: webhooks may reach the receiver on 127.0.0.1."

LABEL = """mutation($i: UpdateBoardInput!) { updateBoard(input: $i) { userErrors { code } } }"""


async def test_the_status_changed_event_carries_the_boards_labels(
    api: Api, ws: Workspace, services: Services, receiver: Any
) -> None:
    hook = receiver(200)
    await register(api, ws, hook.url, ["IDEA_STATUS_CHANGED"])
    board = await create_board(api, ws.api_key)
    labels = [{"status": "SUBMITTED", "label": "New"}, {"status": "UNDER_REVIEW", "label": "Being weighed"}]
    assert (await api(LABEL, {"i": {"boardId": board, "statusLabels": labels}}, auth=ws.api_key))["data"] == {
        "updateBoard": {"userErrors": []}
    }
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await change_status(api, ws.token("mo", role="moderator"), target, "UNDER_REVIEW")

    await eventually(settled(api, ws), 20, "the delivery")
    [got] = hook.requests
    data = json.loads(got.body)["data"]
    assert (data["from"], data["to"], data["fromLabel"], data["toLabel"]) == (
        "SUBMITTED",
        "UNDER_REVIEW",
        "New",
        "Being weighed",
    )

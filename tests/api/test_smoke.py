from tests.api.conftest import Api


async def test_typename_answers(api: Api) -> None:
    body = await api("{ __typename }")
    assert body == {"data": {"__typename": "Query"}}

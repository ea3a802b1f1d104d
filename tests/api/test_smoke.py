async def test_typename_answers(api):
    body = await api("{ __typename }")
    assert body == {"data": {"__typename": "Query"}}

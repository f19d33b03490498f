"""1.3 code runs unchanged: its attribute names, hooks and errors, through both shells."""

import pytest

from clients.navigation import RETIRED
from tests.conftest import URL

NAVIGATING = ('Resource', 'Remote', 'Graph', 'JsonRpc')


@pytest.mark.parametrize('kind', NAVIGATING)
async def test_client_is_the_plain_client(twin, kind):
    api = getattr(twin, kind)(URL, headers={'X': '1'})
    client = api.client
    assert type(client) is twin.Client
    assert client.url == URL
    assert client.headers['X'] == '1'
    twin.mock('GET', URL + 'x', status=404, json={})
    response = await twin(client.get('x'))
    assert response.status_code == 404
    assert [sent.url for sent in twin.sent()] == [URL + 'x']


@pytest.mark.parametrize('kind', NAVIGATING)
@pytest.mark.parametrize('name', sorted(RETIRED))
def test_retired_names_raise_with_what_replaces_them(twin, kind, name):
    api = getattr(twin, kind)(URL)
    with pytest.raises(AttributeError, match=rf"has no attribute '{name}' \(1.3's {name} is gone: use "):
        getattr(api, name)
    assert not hasattr(api, name)

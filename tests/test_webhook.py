"""The webhook receiver: signatures, malformed bodies, oversized bodies, redeliveries."""

from __future__ import annotations

import io
import json

import aiohttp
import pytest
from conftest import MakeService, site_config, wait_for

from bot.demo.forum import DemoForum
from bot.platforms import signing


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=io.BytesIO(body), headers={"Content-Type": "application/json", **headers}
        ) as resp,
    ):
        return resp.status, await resp.text()


def _event(comment_id: str = "900", body: str = "hello there") -> bytes:
    return json.dumps(
        {"event": "comment.created", "comment": {"id": comment_id, "body": body}}
    ).encode()


def _queued(service) -> int:  # type: ignore[no-untyped-def]
    return sum(service.store.sync.counts().values())


@pytest.fixture(name="service")
async def _service(forum: DemoForum, make_service: MakeService):  # type: ignore[no-untyped-def]
    return await make_service(
        forum,
        site=site_config(forum, poll={"enabled": False}),
    )


async def test_wrong_signature_is_401_and_records_nothing(forum: DemoForum, service) -> None:  # type: ignore[no-untyped-def]
    """A body signed with another secret is refused with 401 and nothing is queued."""
    body = _event()
    status, text = await _post(
        forum.webhook_url, body, {"X-Modbot-Signature": signing.sign("not-the-secret", body)}
    )
    assert status == 401
    assert "signature" in json.loads(text)["error"].lower()
    missing, _ = await _post(forum.webhook_url, body, {})
    assert missing == 401
    assert _queued(service) == 0


async def test_malformed_json_is_400_and_service_keeps_running(forum: DemoForum, service) -> None:  # type: ignore[no-untyped-def]
    """Signed but broken JSON gets 400; a good event right after is still accepted."""
    broken = b'{"event": "comment.created", "comment": {'
    status, text = await _post(
        forum.webhook_url, broken, {"X-Modbot-Signature": forum.signature(broken)}
    )
    assert status == 400 and "JSON" in text
    wrong_shape = json.dumps({"event": "comment.created", "comment": {"id": 5}}).encode()
    status, text = await _post(
        forum.webhook_url, wrong_shape, {"X-Modbot-Signature": forum.signature(wrong_shape)}
    )
    assert status == 400 and "body" in text
    good = _event()
    status, _ = await _post(forum.webhook_url, good, {"X-Modbot-Signature": forum.signature(good)})
    assert status == 202
    assert _queued(service) == 1


async def test_two_megabyte_body_is_413(forum: DemoForum, service) -> None:  # type: ignore[no-untyped-def]
    """A 2 MB body is refused with 413 before it is parsed; the service answers afterwards."""
    huge = _event(body="x" * 2_000_000)
    status, _ = await _post(forum.webhook_url, huge, {"X-Modbot-Signature": forum.signature(huge)})
    assert status == 413
    async with (
        aiohttp.ClientSession() as session,
        session.get(forum.webhook_url.replace("/webhooks/demo", "/healthz")) as resp,
    ):
        assert resp.status == 200
    assert _queued(service) == 0


async def test_unknown_site_is_404(forum: DemoForum, service) -> None:  # type: ignore[no-untyped-def]
    """A webhook for a site that is not configured gets 404."""
    body = _event()
    status, _ = await _post(
        forum.webhook_url.replace("/demo", "/nosuch"),
        body,
        {"X-Modbot-Signature": forum.signature(body)},
    )
    assert status == 404


async def test_redelivered_event_is_deduplicated(forum: DemoForum, service) -> None:  # type: ignore[no-untyped-def]
    """The same event id twice, or the same comment version in a new event, queues once."""
    await forum.add_comment("a perfectly civil remark")
    event_id = forum.deliveries[-1].event_id
    assert forum.deliveries[-1].status == 202
    assert await forum.redeliver(event_id) == 200
    assert await forum.deliver(1) == 200  # new event id, same text: duplicate version
    await wait_for(lambda: service.store.sync.counts().get("done") == 1)
    assert service.store.sync.counts() == {"done": 1}

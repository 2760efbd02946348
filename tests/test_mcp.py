"""Every model as an MCP tool (issue 20, item 2), and images given by URL.

The URL fetcher (`medhub/urlfetch.py`) is tested against a server on 127.0.0.1 (this machine has no
network). The MCP tests start the real app (`python app.py`, MCP on) with
`MEDHUB_ALLOW_PRIVATE_URLS=1` so that it may fetch from that local server, read the tool schema at
`/gradio_api/mcp/schema`, and call a tool through the MCP endpoint with the `mcp` client package.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from medhub import limits
from medhub.cards import load_cards
from medhub.errors import InputError

CARDS = load_cards()


@pytest.fixture(scope="module")
def image_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving a temporary folder (with one redirect route)."""
    root = tmp_path_factory.mktemp("served")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/to-file"):
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.end_headers()
                return
            if self.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", "/" + self.path.split("/redirect/", 1)[1])
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()


def test_url_fetch_limits(image_server, monkeypatch):
    from medhub.urlfetch import fetch

    base, root = image_server
    (root / "a.bin").write_bytes(b"x" * 5000)
    for bad in ("ftp://127.0.0.1/a.bin", "file:///etc/passwd", "a.bin", "http://user:pw@127.0.0.1/a.bin"):
        with pytest.raises(InputError) as info:
            fetch(bad)
        assert info.value.code == "bad_url", bad
    monkeypatch.delenv("MEDHUB_ALLOW_PRIVATE_URLS", raising=False)
    with pytest.raises(InputError) as info:
        fetch(f"{base}/a.bin")
    assert info.value.code == "bad_url" and "private or local" in info.value.message_en
    monkeypatch.setenv("MEDHUB_ALLOW_PRIVATE_URLS", "1")
    assert fetch(f"{base}/a.bin") == b"x" * 5000
    assert fetch(f"{base}/redirect/a.bin") == b"x" * 5000
    with pytest.raises(InputError) as info:
        fetch(f"{base}/to-file")
    assert info.value.code == "bad_url"
    with pytest.raises(InputError) as info:
        fetch(f"{base}/missing.png")
    assert info.value.code == "bad_url" and "404" in info.value.message_en
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 4000)
    with pytest.raises(InputError) as info:
        fetch(f"{base}/a.bin")
    assert info.value.code == "too_large"


def test_every_endpoint_function_is_named_and_documented_from_its_card():
    """The tool name is the function's __name__; its docstring has Args and Returns and says it is
    not a diagnosis (checked on the built app, without a server)."""
    import app

    fns = {fn.api_name: fn.fn for fn in app.demo.fns.values() if fn.api_visibility == "public"}
    for card in CARDS:
        fn = fns[f"predict_{card.id}"]
        assert fn.__name__ == f"predict_{card.id}"
        doc = fn.__doc__
        assert "Args:" in doc and "Returns:" in doc and "NOT A DIAGNOSIS" in doc
        assert "image_url:" in doc and "file:" in doc and "threshold" in doc and "in_scope" in doc
        assert card.title_for("en") in doc
    private = [fn for fn in app.demo.fns.values() if fn.api_visibility != "public"]
    assert private, "UI-only events exist and are not public"


@pytest.fixture(scope="module")
def mcp_app(artifacts_dir) -> Iterator[str]:
    """`python app.py` with MCP on and private URLs allowed (as tests/app_server.running_app, with a
    longer start-up allowance: on a machine shared with training jobs the start took over 120 s)."""
    from tests.app_server import running_app

    with running_app(artifacts_dir / "app_server_mcp.log", timeout=900, MEDHUB_ALLOW_PRIVATE_URLS="1",
                     MEDHUB_MCP="1") as url:
        yield url


def expected_tools() -> set[str]:
    from tabs.series import supports_series

    # one predict_<id> per card, the CT series tool, and each card's PDF report (issue 19's /report_<id>,
    # public and so a tool too); no UI event
    return ({f"predict_{c.id}" for c in CARDS} | {f"predict_{c.id}_series" for c in CARDS if supports_series(c)}
            | {f"report_{c.id}" for c in CARDS})


@pytest.mark.server
def test_mcp_schema_lists_one_tool_per_card(mcp_app):
    import httpx

    tools = httpx.get(f"{mcp_app}/gradio_api/mcp/schema", timeout=60).json()
    names = [t["name"] for t in tools]
    assert len(names) == len(set(names))
    assert set(names) == expected_tools(), "one predict_<id> per card (+ series and report tools); no UI event"
    by_name = {t["name"]: t for t in tools}
    for card in CARDS:
        tool = by_name[f"predict_{card.id}"]
        assert card.title_for("en") in tool["description"] and "NOT A DIAGNOSIS" in tool["description"]
        props = tool["inputSchema"]["properties"]
        assert {"file", "image_url", "show_anyway", "opacity"} <= set(props)
        assert "image_url" in props and props["image_url"].get("description")
        assert not tool["inputSchema"].get("required"), "file or image_url: neither alone is required"


def _summary_from(content) -> dict:
    for item in content:
        text = getattr(item, "text", None)
        if text and text.lstrip().startswith("{") and "model_id" in text:
            return ast.literal_eval(text)
    raise AssertionError(f"no summary in {content!r}")


@pytest.mark.server
def test_mcp_tool_call_by_url_gives_the_endpoint_summary(mcp_app, image_server, data_root):
    """A tool call through /gradio_api/mcp/ with an image URL on 127.0.0.1 returns the summary that
    /predict_<id> returns for the same file."""
    from gradio_client import handle_file
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    from tests.test_app_api import sample_for

    card = next(c for c in CARDS if c.id == "melanoma")
    path = sample_for(card, data_root)
    base, root = image_server
    (root / path.name).write_bytes(path.read_bytes())
    url = f"{base}/{path.name}"

    async def call() -> tuple[list, object]:
        async with streamablehttp_client(f"{mcp_app}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                result = await session.call_tool(f"predict_{card.id}", {"image_url": url})
                return listed.tools, result

    tools, result = asyncio.run(asyncio.wait_for(call(), timeout=600))
    assert {t.name for t in tools} == expected_tools()
    assert not result.isError, result.content
    by_mcp = _summary_from(result.content)
    from gradio_client import Client

    from tests.app_server import offline_env

    with offline_env():  # a long timeout: the config fetch timed out at httpx's default under load
        api = Client(mcp_app, verbose=False, httpx_kwargs={"timeout": 300})
    by_api = api.predict(handle_file(str(path)), api_name=f"/predict_{card.id}")[2]
    assert by_mcp == by_api

    # A URL the gate refuses (not an image) is a clean error, not a traceback.
    (root / "note.txt").write_text("not an image")

    async def bad() -> object:
        async with streamablehttp_client(f"{mcp_app}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool(f"predict_{card.id}", {"image_url": f"{base}/note.txt"})

    refused = asyncio.run(asyncio.wait_for(bad(), timeout=300))
    assert refused.isError
    assert "not a supported image" in " ".join(getattr(c, "text", "") for c in refused.content)


pytestmark = pytest.mark.data

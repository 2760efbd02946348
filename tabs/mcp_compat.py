"""Fixes for Gradio 6.31's MCP server on queued endpoints with several outputs and a gr.State.

A queued tool call without a progress token runs the endpoint through `gradio_client` and keeps
`[job.result()]` (`GradioMCPServer._execute_tool_without_progress`): for an endpoint with several
outputs that is ONE item, the tuple of all outputs (its client keeps the State values:
`_skip_components=False`). `pop_returned_state` then pops the State by its index in the endpoint's
outputs from that one-item list, and every
tool call of `/predict_<id>` (Label, overlay, summary, State) failed with "pop index out of range"
(read in gradio/mcp.py; seen calling predict_melanoma through the MCP endpoint). `install()` makes
that step unwrap the tuple and leave out the State values, so the tool
returns the Label, the overlay image and the summary as three items, as the progress path does.
Remove it once Gradio fixes this.
"""

from __future__ import annotations

from typing import Any


def install() -> bool:
    """Patch the MCP server's `pop_returned_state` (once); False when gradio's MCP is not installed."""
    try:
        from gradio import mcp
        from gradio.components import State
    except ImportError:
        return False
    server = getattr(mcp, "GradioMCPServer", None)
    if server is None or getattr(server.pop_returned_state, "_medhub_fixed", False):
        return server is not None
    original = server.pop_returned_state

    def pop_returned_state(components, data: Any) -> list:
        states = sum(isinstance(c, State) for c in components)
        visible = len(components) - states
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], (tuple, list)) and len(components) > 1:
            inner = list(data[0])  # [job.result()] of a multi-output endpoint
            if len(inner) == len(components):  # the MCP's client keeps State values (_skip_components=False)
                return [v for v, c in zip(inner, components, strict=True) if not isinstance(c, State)]
            if len(inner) == visible:
                return inner
        if isinstance(data, list) and states and len(data) == visible:
            return data  # gradio_client has dropped the State values already
        return original(components, data)

    pop_returned_state._medhub_fixed = True  # type: ignore[attr-defined]
    server.pop_returned_state = staticmethod(pop_returned_state)
    return True


# Gradio gives its server 5 s to start (`gradio.http_server.Server.run_in_thread`), then gives up on it
# and starts another. With the MCP server that second start always fails: the abandoned server's
# lifespan has already entered the MCP session manager, whose `run()` may be entered once per
# instance ("StreamableHTTPSessionManager .run() can only be called once per instance", then
# "Application startup failed" for every retry; seen on the 2-core machine at load average 12, where
# the start took longer than 5 s). A longer allowance, and an early stop if the server thread dies.
SERVER_START_TIMEOUT_S = float(__import__("os").environ.get("MEDHUB_SERVER_START_TIMEOUT_S", "120"))


def install_server_start_timeout(timeout_s: float = SERVER_START_TIMEOUT_S) -> bool:
    import threading
    import time

    try:
        from gradio import http_server
        from gradio.exceptions import ServerFailedToStartError
    except ImportError:
        return False
    server = http_server.Server
    if getattr(server.run_in_thread, "_medhub_fixed", False):
        return True

    def run_in_thread(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        if self.reloader:
            self.watch_thread = threading.Thread(target=self.watch, daemon=True)
            self.watch_thread.start()
        self.thread.start()
        start = time.time()
        while not self.started:
            time.sleep(1e-3)
            if not self.thread.is_alive() or time.time() - start > timeout_s:
                raise ServerFailedToStartError("Server failed to start. Please check that the port is available.")

    run_in_thread._medhub_fixed = True  # type: ignore[attr-defined]
    server.run_in_thread = run_in_thread

    # Then launch() checks the page with 5 HEAD requests of 3 s (`gradio.networking.url_ok`) and exits
    # with "When localhost is not accessible, a shareable link must be created" when none answers in
    # time (seen at load average 15 while the models warmed up): the same check, for up to timeout_s.
    from gradio import networking

    original_url_ok = networking.url_ok

    def url_ok(url: str) -> bool:
        deadline = time.time() + timeout_s
        while True:
            if original_url_ok(url):
                return True
            if time.time() > deadline:
                return False

    networking.url_ok = url_ok
    return True

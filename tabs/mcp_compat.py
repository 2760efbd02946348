"""Fixes for Gradio 6.31's MCP server on queued endpoints with several outputs and a gr.State.

A queued tool call without a progress token runs the endpoint through `gradio_client` and keeps
`[job.result()]` (`GradioMCPServer._execute_tool_without_progress`): for an endpoint with several
outputs that is ONE item, the tuple of outputs, from which the client has already dropped the State
outputs. `pop_returned_state` then pops the State by its index in the endpoint's outputs, and every
tool call of `/predict_<id>` (Label, overlay, summary, State) failed with "pop index out of range"
(read in gradio/mcp.py; seen calling predict_melanoma through the MCP endpoint). `install()` makes
that step unwrap the tuple and skip the pop when the State values are gone already, so the tool
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
        if (isinstance(data, list) and len(data) == 1 and isinstance(data[0], (tuple, list))
                and visible > 1 and len(data[0]) == visible):
            return list(data[0])  # [job.result()] of a multi-output endpoint, State already dropped
        if isinstance(data, list) and states and len(data) == visible:
            return data  # gradio_client has dropped the State values already
        return original(components, data)

    pop_returned_state._medhub_fixed = True  # type: ignore[attr-defined]
    server.pop_returned_state = staticmethod(pop_returned_state)
    return True

"""A new Gradio session without building every component's config first (gradio 6.31).

Every new session (a visitor's first event, every curl call, every `gradio_client` call with a fresh
session, every MCP tool call) makes a `gradio.state_holder.SessionState`, whose constructor builds the
config of EVERY block of the app (`BlocksConfig.config_for_block`: each component's `get_config()`,
and `api_info()` with its JSON schema). This app has hundreds of blocks (six model tabs, class mode,
About), so that cost is paid per new visitor and per API call, while a request reads the config of a
block only when it updates that block (or for a deep link). `install()` makes those configs lazy: each
is built the first time it is read, and all of them when they are listed (deep links), from the same
session copy of the blocks as before, so what a session sees does not change.

Measured in docs/BENCHMARKS.md (classroom scenario). Installed by `app.main()`; only for the gradio
version it was written against (a later one may build the session differently: then nothing is
patched and a warning is logged). `MEDHUB_LAZY_SESSION=0` leaves gradio as it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from copy import copy
from typing import Any

log = logging.getLogger("medhub.app")

GRADIO_VERSION = "6.31.0"


class LazyConfigValues(dict):
    """`SessionState.config_values`, each entry built from the session's blocks on first read."""

    def __init__(self, blocks_config: Any, ids: Iterable[int]) -> None:
        super().__init__()
        self._blocks_config = blocks_config
        self._pending = set(ids)

    def _build(self, key: int) -> None:
        self._pending.discard(key)
        block = self._blocks_config.blocks[key]
        dict.__setitem__(self, key, self._blocks_config.config_for_block(key, [], block))

    def _build_all(self) -> None:
        for key in list(self._pending):
            if key in self._blocks_config.blocks:
                self._build(key)
        self._pending.clear()

    def __missing__(self, key: int) -> Any:
        if key in self._pending:
            self._build(key)
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def __setitem__(self, key: int, value: Any) -> None:
        self._pending.discard(key)
        dict.__setitem__(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self._pending or dict.__contains__(self, key)

    def get(self, key: int, default: Any = None) -> Any:
        return self[key] if key in self else default

    def __iter__(self):
        self._build_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._pending)

    def keys(self):
        self._build_all()
        return dict.keys(self)

    def values(self):
        self._build_all()
        return dict.values(self)

    def items(self):
        self._build_all()
        return dict.items(self)


def install() -> bool:
    """Patch `SessionState.__init__` (gradio 6.31) to build configs lazily; True when patched."""
    if os.environ.get("MEDHUB_LAZY_SESSION", "1") == "0":
        return False
    import gradio
    from gradio import state_holder

    if gradio.__version__ != GRADIO_VERSION:
        log.warning("gradio %s, not %s: sessions are built by gradio as they are (tabs/session_state.py)",
                    gradio.__version__, GRADIO_VERSION)
        return False
    cls = state_holder.SessionState
    if getattr(cls, "_medhub_lazy", False):
        return True
    original = cls.__init__

    def __init__(self, blocks) -> None:  # noqa: N807 - replaces gradio's own
        # gradio 6.31's constructor, with `config_values` lazy instead of built block by block.
        self.blocks_config = copy(blocks.default_config)
        self.config_values = LazyConfigValues(
            self.blocks_config, [k for k in self.blocks_config.blocks if k in blocks.blocks])
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    cls.__init__ = __init__
    cls._medhub_lazy = True
    cls._medhub_original_init = original
    return True

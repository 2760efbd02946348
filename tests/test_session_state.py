"""tabs/session_state.py: a new session builds each block's config only when read, and what it reads is
what gradio's own constructor would have built."""

from __future__ import annotations

import gradio as gr
import pytest
from gradio import state_holder

from tabs import session_state


@pytest.fixture
def demo():
    with gr.Blocks() as blocks:
        text = gr.Textbox(value="a", label="t")
        image = gr.Image(type="numpy")
        state = gr.State({"k": 1})
        out = gr.JSON()
        gr.Button().click(lambda x, s: {"x": x}, [text, state], out, api_name="f")
        gr.Markdown("hello")
        del image
    return blocks


@pytest.fixture
def patched(monkeypatch):
    original = state_holder.SessionState.__init__
    monkeypatch.delenv("MEDHUB_LAZY_SESSION", raising=False)
    assert session_state.install() == (gr.__version__ == session_state.GRADIO_VERSION)
    yield original
    state_holder.SessionState.__init__ = original
    state_holder.SessionState._medhub_lazy = False


def test_lazy_configs_are_gradios_own(demo, patched):
    if gr.__version__ != session_state.GRADIO_VERSION:
        pytest.skip("patch written for another gradio version")
    eager = state_holder.SessionState.__new__(state_holder.SessionState)
    patched(eager, demo)
    lazy = state_holder.SessionState(demo)
    assert isinstance(lazy.config_values, session_state.LazyConfigValues)
    assert dict.__len__(lazy.config_values) == 0  # nothing built yet
    some = next(iter(eager.config_values))
    assert some in lazy.config_values and lazy.config_values[some] == eager.config_values[some]
    assert dict.__len__(lazy.config_values) == 1
    assert dict(lazy.config_values.items()) == eager.config_values  # listing builds the rest
    assert len(lazy.config_values) == len(eager.config_values)


def test_session_state_behaves_as_before(demo, patched):
    if gr.__version__ != session_state.GRADIO_VERSION:
        pytest.skip("patch written for another gradio version")
    s = state_holder.SessionState(demo)
    state_id = next(k for k, b in demo.blocks.items() if isinstance(b, gr.State))
    text_id = next(k for k, b in demo.blocks.items() if isinstance(b, gr.Textbox))
    assert s[state_id] == {"k": 1}
    s[state_id] = {"k": 2}
    assert s[state_id] == {"k": 2} and demo.blocks[state_id].value == {"k": 1}  # a copy per session
    s._update_value_in_config(text_id, "b")
    assert s.config_values[text_id]["props"]["value"] == "b"
    assert s.blocks_config is not demo.default_config
    assert s.STATE_TTL_WHEN_CLOSED in (1, 3600) and not s.is_closed


def test_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("MEDHUB_LAZY_SESSION", "0")
    assert session_state.install() is False

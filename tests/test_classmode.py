"""Class mode's state machine (issue 19), without a browser: a deck through the pipeline, votes, reveal,
next, the end-of-deck line, in English and Korean."""

from __future__ import annotations

import pytest

from tabs import classmode


@pytest.fixture(scope="module")
def state(data_root, monkeypatch_module):
    monkeypatch_module.setenv("MEDHUB_SAMPLES_DIR", str(data_root))
    return classmode.load_deck("brain_hemorrhage", "right", 2, 5)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_deck_state_and_render(state) -> None:
    assert len(state["cases"]) == 2 and state["i"] == 0 and not state["revealed"]
    case = state["cases"][0]
    assert case["image"].ndim == 3 and max(case["image"].shape[:2]) <= classmode.SHOW_PX
    header, image, tally, reveal, probs, overlay, *buttons = classmode.render(state, "en")
    assert "Case 1 of 2" in header and image is case["image"] and reveal == ""
    visible = [b for b in buttons if b.get("visible")]
    assert len(visible) == 2 and visible[0]["value"].startswith("1. ")
    assert probs["visible"] is False and overlay["visible"] is False  # nothing before the reveal


def test_vote_reveal_next_in_both_languages(state) -> None:
    st = {**state, "votes": [dict() for _ in state["cases"]], "i": 0, "revealed": False}
    truth = st["cases"][0]["truth"]
    st["votes"][0][truth] = 3
    assert "**3**" in classmode.render(st, "en")[2]
    st["revealed"] = True
    header, _, tally, reveal, probs, overlay, *_ = classmode.render(st, "ko")
    assert "사례 1 / 2" in header and "정답" in reveal and "투표" in tally
    assert probs["visible"] and overlay["visible"]
    st["i"], st["revealed"] = 1, True
    st["votes"][1]["hemorrhage" if st["cases"][1]["truth"] == "normal" else "normal"] = 1
    assert "1 of 2" in classmode.render(st, "en")[3]  # end of deck: one top vote was right


def test_scope_answers_and_empty_deck() -> None:
    from medhub.cards import get_card

    assert [a for a, _ in classmode.answers(get_card("melanoma"), "scope", "en")] == ["in", "out"]
    empty = {"card": "melanoma", "kind": "wrong", "cases": [], "i": 0, "revealed": False, "votes": []}
    assert "No cases" in classmode.render(empty, "en")[0]
    assert classmode.render(None, "ko")[0].startswith("모델과")


pytestmark = pytest.mark.data

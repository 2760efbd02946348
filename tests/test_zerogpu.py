"""The @spaces.GPU path (medhub/zerogpu.py, issue 20): with `spaces` installed and no GPU it is the plain
path and gives the same probabilities on a real dermoscopy image."""

from __future__ import annotations

import numpy as np
import pytest

from medhub import zerogpu
from medhub.cards import get_card
from medhub.imaging import load_for_card
from medhub.registry import get_predictor


def test_spaces_is_installed_and_a_no_op_here(monkeypatch):
    pytest.importorskip("spaces")
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.spaces_installed()
    assert not zerogpu.on_zerogpu() and not zerogpu.models_on_gpu()

    def plain(x):
        return x + 1

    assert zerogpu.gpu(plain) is plain, "off ZeroGPU, spaces.GPU returns the function itself"


# One torch model: the decorator does not depend on the model (the Keras CT model's load alone took over
# the 600 s test timeout on the shared machine while training jobs ran).
@pytest.mark.parametrize("model_id, rel", [("melanoma", None)])
def test_decorated_path_gives_the_plain_probabilities(model_id, rel, data_root):
    pytest.importorskip("spaces")
    card = get_card(model_id)
    if rel is None:
        folder = data_root / "melanoma" / "malignant"
        if not folder.is_dir():
            pytest.skip("no melanoma images")
        path = sorted(p for p in folder.iterdir() if p.is_file())[0]
    else:
        path = data_root / rel
    image = load_for_card(card, path).rgb
    plain = get_predictor(model_id).analyse(image)
    decorated = zerogpu.analyse_on_gpu(model_id, image)
    a = np.array([plain.probabilities[k] for k in card.label_ids])
    b = np.array([decorated.probabilities[k] for k in card.label_ids])
    assert np.allclose(a, b, atol=1e-6)
    assert decorated.decision == plain.decision


def test_the_app_defines_its_gpu_function_before_launch():
    """On ZeroGPU, `spaces` reports the decorated functions when `launch()` runs and a Space with none
    does not start (spaces/zero/__init__.py: `startup`): app.py imports medhub.zerogpu at module level,
    whose `analyse_on_gpu` is decorated at import."""
    import ast

    from medhub.paths import REPO_ROOT

    tree = ast.parse((REPO_ROOT / "app.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in top if isinstance(n, ast.ImportFrom)}
    assert "medhub.zerogpu" in names


pytestmark = pytest.mark.data

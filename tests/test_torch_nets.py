"""`build_torch_model` builds what a card describes: logits in label order, graded heads, errors."""

from __future__ import annotations

import dataclasses

import pytest

from medhub.cards import CardError, InputContract, Label, ModelCard, WeightFile
from medhub.graded import parse_heads

GRADES = [{"en": n, "ko": n} for n in ("none", "mild", "moderate", "severe")]


def _card(architecture: str, n_labels: int = 3, heads: list | None = None) -> ModelCard:
    from pathlib import Path

    return ModelCard(
        id="synthetic", title={"en": "t", "ko": "t"}, framework="torch", architecture=architecture,
        repo_id="x/y", revision="main", files=(WeightFile("model.safetensors", "0" * 64),),
        input=InputContract("dermoscopy", (64, 64), 3, (0.5,) * 3, (0.5,) * 3),
        output="softmax", labels=tuple(Label(f"l{i}", f"L{i}", f"L{i}") for i in range(n_labels)),
        positive_class=None, threshold=None, gradcam_layer="bn2", metrics={}, license="mit", body="",
        path=Path("synthetic.md"), heads=heads,
    )


@pytest.mark.parametrize("arch,n", [("test_efficientnet", 3), ("resnet10t", 2), ("test_efficientnet", 5)])
def test_logits_shape_follows_labels(arch, n):
    from medhub._torch_compat import import_torch
    from medhub.architectures.torch_nets import build_torch_model

    torch = import_torch()
    model = build_torch_model(_card(arch, n)).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, n)


def test_graded_heads_share_the_body_and_keep_primary_output():
    from medhub._torch_compat import import_torch
    from medhub.architectures.torch_nets import GradedHeadsNet, build_torch_model

    torch = import_torch()
    heads = parse_heads([
        {"id": "dandruff", "en": "Dandruff", "ko": "비듬", "grades": GRADES[:4], "bins": [0.1, 0.2, 0.3]},
        {"id": "sebum", "en": "Sebum", "ko": "피지", "grades": GRADES[:3], "bins": [0.1, 0.2]},
    ])
    model = build_torch_model(_card("test_efficientnet", 3, heads=heads)).eval()
    assert isinstance(model, GradedHeadsNet)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model.forward_heads(x)
        primary = model(x)
    assert set(out) == {"primary", "dandruff", "sebum"}
    assert out["dandruff"].shape == (2, 4) and out["sebum"].shape == (2, 3)
    assert torch.allclose(out["primary"], primary, atol=1e-5)
    # Grad-CAM paths point into the body
    assert model.get_submodule("body.bn2") is model.body.bn2
    keys = set(model.state_dict())
    assert "heads.dandruff.weight" in keys and "body.classifier.weight" in keys


@pytest.mark.parametrize("bad", [
    "dandruff",
    [{"en": "no id", "ko": "x", "grades": GRADES[:2], "bins": [0.1]}],
    [{"id": "a", "en": "a", "ko": "a", "grades": GRADES[:2], "bins": [0.1]}] * 2,
    [{"id": "a", "en": "a", "ko": "a", "grades": GRADES[:1], "bins": []}],
])
def test_bad_heads_are_refused(bad):
    """Heads reach the network only through the card schema (`medhub.graded.parse_heads`), which
    refuses these."""
    with pytest.raises(CardError):
        parse_heads(bad)


def test_unknown_architecture_and_wrong_framework_are_refused():
    from medhub.architectures.torch_nets import build_torch_model

    with pytest.raises(CardError, match="unknown timm architecture"):
        build_torch_model(_card("no_such_net"))
    with pytest.raises(CardError, match="torch card"):
        build_torch_model(dataclasses.replace(_card("resnet10t"), framework="keras"))

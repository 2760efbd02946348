"""`build_torch_model` builds what a card describes: logits in label order, graded heads, errors."""

from __future__ import annotations

import dataclasses

import pytest

from medhub.cards import CardError, InputContract, Label, ModelCard, WeightFile


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
    heads = [{"id": "dandruff", "en": "Dandruff", "ko": "비듬"}, {"id": "sebum", "grades": 3}]
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
    {"heads": "dandruff"},
    {"heads": [{"en": "no id"}]},
    {"heads": [{"id": "a"}, {"id": "a"}]},
    {"heads": [{"id": "a", "grades": 1}]},
])
def test_bad_heads_are_refused(bad):
    from medhub.architectures.torch_nets import build_torch_model

    with pytest.raises(CardError):
        build_torch_model(_card("test_efficientnet", 3, **bad))


def test_unknown_architecture_and_wrong_framework_are_refused():
    from medhub.architectures.torch_nets import build_torch_model

    with pytest.raises(CardError, match="unknown timm architecture"):
        build_torch_model(_card("no_such_net"))
    with pytest.raises(CardError, match="torch card"):
        build_torch_model(dataclasses.replace(_card("resnet10t"), framework="keras"))

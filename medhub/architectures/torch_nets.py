"""PyTorch architectures built in code, for the cards with `framework: torch`.

`build_torch_model(card)` returns an untrained timm network whose output is logits
`[N, len(card.labels)]` in card label order; the backend then loads the card's safetensors weights
into it with `strict=True`. No pretrained weights are fetched here (the hub never downloads or
unpickles a model file at run time).

The bundled models are timm `tf_efficientnet_lite0` (EfficientNet-Lite0: Tan & Le, "EfficientNet:
Rethinking Model Scaling for CNNs", ICML 2019; the Lite variant drops squeeze-excitation and uses
ReLU6; Apache-2.0), fine-tuned from ImageNet weights converted by `training/convert_backbones.py`.
Any timm architecture name works (tests build tiny ones such as `test_efficientnet`, `resnet10t`).

Graded heads. The scalp project this hub follows graded several symptoms (dandruff, sebum,
erythema, pustules, hair loss) each on 0 good / 1 mild / 2 moderate / 3 severe. A card may declare
such heads under `medhub.heads`:

    heads:
      - {id: dandruff, en: Dandruff, ko: 비듬, grades: 4}

(`grades` may also be the list of grade names that `medhub.graded` reads; its length counts.)

Then the network is a `GradedHeadsNet`: the same timm body, whose own classifier stays the
primary output (logits over `card.labels`, what `forward` returns, so backends and Grad-CAM work
unchanged, with the layer path prefixed by `body.`), plus one linear head per symptom over the
same pooled features, returned by `forward_heads`. Without `heads` the plain timm model is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medhub._torch_compat import import_timm, import_torch
from medhub.cards import CardError

if TYPE_CHECKING:
    import torch

    from medhub.cards import ModelCard

torch = import_torch()
nn = torch.nn


@dataclass(frozen=True)
class GradedHead:
    id: str
    en: str
    ko: str
    grades: int = 4  # 0 good, 1 mild, 2 moderate, 3 severe


def graded_heads(specs) -> tuple[GradedHead, ...]:
    """The network's heads from the card's validated heads (`card.heads`, or `medhub.graded.parse_heads`
    for a list not on a card yet): the card schema is the one parser of a `heads` list."""
    return tuple(GradedHead(h.id, h.en, h.ko, len(h.grades)) for h in specs or ())


class GradedHeadsNet(nn.Module):
    """A timm classifier plus extra graded heads on its pooled features.

    `forward(x)` gives the primary logits (card labels); `forward_heads(x)` gives
    {"primary": logits, <head id>: logits over that head's grades}.
    """

    def __init__(self, body: nn.Module, heads: tuple[GradedHead, ...]) -> None:
        super().__init__()
        self.body = body
        self.heads = nn.ModuleDict({h.id: nn.Linear(body.num_features, h.grades) for h in heads})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward_heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.body.forward_head(self.body.forward_features(x), pre_logits=True)
        out = {"primary": self.body.get_classifier()(pooled)}
        out.update({name: head(pooled) for name, head in self.heads.items()})
        return out


def build_timm(architecture: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """An untrained timm model with a `num_classes` classifier; typed error for unknown names."""
    timm = import_timm()
    if not timm.is_model(architecture):
        raise CardError(f"unknown timm architecture '{architecture}'")
    return timm.create_model(architecture, pretrained=False, num_classes=num_classes, **kwargs)


def build_torch_model(card: ModelCard) -> nn.Module:
    """The card's network, untrained: logits [N, len(card.labels)] in card label order."""
    if card.framework != "torch":
        raise CardError(f"{card.id}: build_torch_model needs a torch card, not {card.framework}")
    body = build_timm(card.architecture, len(card.labels))
    heads = graded_heads(card.heads)
    return GradedHeadsNet(body, heads) if heads else body

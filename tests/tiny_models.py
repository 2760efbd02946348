"""A tiny untrained torch model (timm `test_efficientnet`, 2 labels, 64 px) and its card, for the
tests that add models with no code change (tests/test_sixth_card.py, tests/test_registry.py)."""

from __future__ import annotations

from pathlib import Path

TINY_CARD = """---
license: cc-by-nc-4.0
library_name: timm
medhub:
  schema_version: 1
  id: {id}
  title: {{en: {title_en}, ko: {title_ko}}}
  framework: torch
  architecture: test_efficientnet
  hub:
    repo_id: medhub-test/{id}
    revision: main
    files:
    - {{name: model.safetensors, sha256: "{sha}"}}
  input: {{modality: dermoscopy, size: [64, 64], channels: 3, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}
  labels:
  - {{id: calm, en: Calm, ko: 평온}}
  - {{id: busy, en: Busy, ko: 분주}}
  positive_class: busy
  threshold: 0.5
  gradcam_layer: conv_head
  disclaimer: dermatology
  order: {order}
  metrics: {{dataset: none (untrained test model), split: none, n: 0}}
  license: cc-by-nc-4.0
---
# {title_en}
## Intended use
Tests only.
## Out-of-scope use
Everything.
## Training data
None.
## Evaluation
None.
## Limitations
Untrained.
## Disclaimer
Research and education only.
"""


def tiny_card(model_id: str, sha: str, order: int, title_en: str | None = None, title_ko: str | None = None) -> str:
    """The card's Markdown for weights with this sha256."""
    return TINY_CARD.format(id=model_id, sha=sha, order=order, title_en=title_en or f"Tiny {model_id}",
                            title_ko=title_ko or f"작은 {model_id}")


def save_tiny_weights(path: Path, seed: int = 0) -> str:
    """Random (seeded) weights of the tiny model as safetensors at `path`; returns their sha256."""
    from medhub._torch_compat import import_torch

    torch = import_torch()
    from safetensors.torch import save_file

    from medhub.architectures.torch_nets import build_timm
    from medhub.weights import sha256_file

    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in build_timm("test_efficientnet", 2).state_dict().items()}, str(path))
    return sha256_file(path)

"""PyTorch backend: a timm model built in code, safetensors weights, Grad-CAM via pytorch-grad-cam.

The architecture comes from `medhub.architectures.torch_nets.build_torch_model(card)`; the weights
are loaded with `safetensors.torch.load_file` (never pickle) and `load_state_dict(strict=True)`, so a
file with a missing, extra or mis-shaped tensor is refused with `IncompatibleWeights`.

Grad-CAM (Selvaraju et al., ICCV 2017) uses jacobgil/pytorch-grad-cam (MIT) on the module at the
dotted path `card.gradcam_layer` (`conv_head`, `layer4.-1`, `stages.3`; `[-1]` also works). A
`GradCAM` object is created per call as a context manager, so its forward hooks are removed after
every call; one lock serialises predict and explain, because while the hooks are attached any
forward pass through the shared model would feed them.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

import numpy as np

from medhub._torch_compat import import_torch
from medhub.backends.base import (
    BackendError,
    IncompatibleWeights,
    OnePass,
    check_batch,
    check_class,
    check_image,
    decide_index,
    normalise_map,
    thread_count,
)

if TYPE_CHECKING:
    import torch

    from medhub.cards import ModelCard
    from medhub.weights import ResolvedWeights

_threads_set = False


def configure_threads(torch_mod) -> None:
    """torch's intra-op threads (`thread_count()`) and one inter-op thread, once per process."""
    global _threads_set
    if _threads_set:
        return
    torch_mod.set_num_threads(thread_count())
    try:
        # Inter-op threads can only be set before the first parallel op; later calls raise.
        torch_mod.set_num_interop_threads(1)
    except RuntimeError:
        pass
    _threads_set = True


def find_module(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """The sub-module at a dotted path; integer parts (negative too) index Sequential/ModuleList."""
    parts = [p for p in re.sub(r"\[(-?\d+)\]", r".\1", path).split(".") if p]
    if not parts:
        raise BackendError(f"empty Grad-CAM layer path {path!r}")
    module = model
    for i, part in enumerate(parts):
        try:
            if re.fullmatch(r"-?\d+", part) and hasattr(module, "__getitem__"):
                module = module[int(part)]
            else:
                module = getattr(module, part)
        except (AttributeError, IndexError, TypeError, KeyError):
            children = [name for name, _ in module.named_children()]
            raise BackendError(
                f"Grad-CAM layer {path!r}: no '{part}' under '{'.'.join(parts[:i]) or 'model'}' "
                f"(children: {', '.join(children[:20])})"
            ) from None
    import torch

    if not isinstance(module, torch.nn.Module):
        raise BackendError(f"Grad-CAM layer {path!r} is not a module")
    return module


def load_state(path, model: torch.nn.Module) -> None:
    """Load a safetensors file into `model` strictly, widening half-precision tensors to float32."""
    torch = import_torch()
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise IncompatibleWeights(f"{path} is not a readable safetensors file: {exc}") from exc
    # Weights may be stored as float16 to halve the download; the CPU model computes in float32.
    state = {k: (v.float() if v.dtype in (torch.float16, torch.bfloat16) else v) for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        # torch lists every missing/unexpected key and size mismatch; keep the first lines.
        detail = "\n".join(str(exc).splitlines()[:6])
        raise IncompatibleWeights(f"{path} does not fit the architecture: {detail}") from exc


class TorchBackend:
    """A timm/PyTorch classifier ready for CPU inference and Grad-CAM."""

    def __init__(self, card: ModelCard, weights: ResolvedWeights) -> None:
        torch = import_torch()
        configure_threads(torch)
        # pytorch-grad-cam (2.6 s of imports here: scikit-learn, matplotlib) is imported only by
        # `explain` / `explain_head`; the request path is `analyse_one`, which computes the same map.
        from medhub.architectures.torch_nets import build_torch_model

        self.card = card
        self.size = tuple(card.input.size)
        self.n_classes = len(card.labels)
        model = build_torch_model(card)
        load_state(weights.path(card.weights_file.name), model)
        model.eval()
        # Grad-CAM needs gradients of activations only; the input tensor asks for them (see explain),
        # so weight gradients (most of the backward cost) are never computed.
        for param in model.parameters():
            param.requires_grad_(False)
        self.model = model
        self.target_layer = find_module(model, card.gradcam_layer)
        self._lock = threading.Lock()
        self._torch = torch

    def _to_nchw(self, batch: np.ndarray):
        return self._torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch, self.size)
        torch = self._torch
        with self._lock, torch.inference_mode():
            logits = self.model(self._to_nchw(batch))
            if logits.ndim != 2 or logits.shape[1] != self.n_classes:
                raise BackendError(
                    f"{self.card.id}: the model returned {tuple(logits.shape)}, expected (N, {self.n_classes})"
                )
            probs = torch.softmax(logits.float(), dim=1)
        return probs.numpy().astype(np.float32)

    def explain(self, x: np.ndarray, class_index: int) -> np.ndarray:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        x = check_image(x, self.size)
        index = check_class(class_index, self.n_classes)
        torch = self._torch
        tensor = self._to_nchw(x[None]).requires_grad_(True)
        maps = None
        with self._lock, torch.enable_grad():
            # A fresh CAM per call: leaving the `with` removes its hooks, so none accumulate.
            with GradCAM(model=self.model, target_layers=[self.target_layer]) as cam:
                maps = cam(input_tensor=tensor, targets=[ClassifierOutputTarget(index)])
        if maps is None:
            # pytorch-grad-cam's __exit__ prints and swallows IndexError; do not return nothing.
            raise BackendError(f"{self.card.id}: Grad-CAM failed on layer {self.card.gradcam_layer!r}")
        heat = np.asarray(maps[0], dtype=np.float32)
        if heat.shape != self.size:
            raise BackendError(f"{self.card.id}: Grad-CAM map has shape {heat.shape}, expected {self.size}")
        return normalise_map(heat)

    # ---------------------------------------------------------------- one pass: probs, features, map

    def _net(self):
        """The timm body (a GradedHeadsNet wraps one): forward_features / forward_head / classifier."""
        return getattr(self.model, "body", self.model)

    def _pooled_and_logits(self, tensor):
        net = self._net()
        pooled = net.forward_head(net.forward_features(tensor), pre_logits=True)
        return pooled, net.get_classifier()(pooled)

    def features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [N, K], pooled penultimate features [N, D]) from one forward pass."""
        batch = check_batch(batch, self.size)
        torch = self._torch
        with self._lock, torch.inference_mode():
            pooled, logits = self._pooled_and_logits(self._to_nchw(batch))
            probs = torch.softmax(logits.float(), dim=1)
        return probs.numpy().astype(np.float32), pooled.float().numpy().astype(np.float32)

    def analyse_one(self, x: np.ndarray, explain_index: int | None = None) -> OnePass:
        """One forward and one backward pass for one image -> OnePass (probs [K], pooled [D], heat
        map, index, and for a graded-heads model each head's grade probabilities).

        The heat map is Grad-CAM (Selvaraju et al. 2017) on `card.gradcam_layer`, computed as
        pytorch-grad-cam's GradCAM does (channel weights = mean gradient, ReLU, min-max scaled, bilinear
        resize), for `explain_index`, or for the card's decision when it is None. The graded heads read
        the same pooled features (`GradedHeadsNet.forward_heads` does the same), so they cost a few
        small matrix products, not a second forward pass.
        """
        import cv2

        x = check_image(x, self.size)
        torch = self._torch
        store: dict = {}

        def keep(_module, _inputs, output):
            # The layer's output becomes a leaf that asks for its gradient: nothing before it
            # records a graph (the input and the weights ask for none), so the backward pass runs
            # through the tail only (pooling and classifier), not back to the input.
            leaf = output.detach().requires_grad_(True)
            store["act"] = leaf
            return leaf

        with self._lock, torch.enable_grad():
            handle = self.target_layer.register_forward_hook(keep)
            try:
                pooled, logits = self._pooled_and_logits(self._to_nchw(x[None]))
            finally:
                handle.remove()
            probs = torch.softmax(logits.detach().float(), dim=1)[0].numpy().astype(np.float32)
            index = (
                decide_index(self.card, probs)
                if explain_index is None
                else check_class(explain_index, self.n_classes)
            )
            logits[0, index].backward()
            heads = None
            if hasattr(self.model, "forward_heads"):  # a GradedHeadsNet: its heads read `pooled`
                with torch.no_grad():
                    flat = pooled.detach()
                    heads = {
                        name: torch.softmax(head(flat).float(), dim=1)[0].numpy().astype(np.float32)
                        for name, head in self.model.heads.items()
                    }
        if "act" not in store or store["act"].grad is None:
            raise BackendError(f"{self.card.id}: Grad-CAM layer {self.card.gradcam_layer!r} saw no gradient")
        act = store["act"].detach()[0].float().numpy()
        grad = store["act"].grad[0].float().numpy()
        if act.ndim != 3:
            raise BackendError(f"{self.card.id}: Grad-CAM layer output {act.shape} is not a spatial map")
        cam = np.maximum((grad.mean(axis=(1, 2))[:, None, None] * act).sum(axis=0), 0.0)
        cam = cam - cam.min()
        cam = cam / (1e-7 + cam.max())
        cam = cv2.resize(cam.astype(np.float32), (self.size[1], self.size[0]))
        return OnePass(probs, pooled.detach()[0].float().numpy(), normalise_map(cam), index, heads)

    # ---------------------------------------------------------------- graded heads (medhub/graded.py)

    def predict_heads(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """{"primary": probs over card labels, <head id>: probs over its grades}, each [N, K] float32."""
        batch = check_batch(batch, self.size)
        if not hasattr(self.model, "forward_heads"):
            raise BackendError(f"{self.card.id}: the model has no graded heads")
        torch = self._torch
        with self._lock, torch.inference_mode():
            out = self.model.forward_heads(self._to_nchw(batch))
            return {k: torch.softmax(v.float(), dim=1).numpy().astype(np.float32) for k, v in out.items()}

    def explain_head(self, x: np.ndarray, head: str) -> np.ndarray:
        """Grad-CAM for one graded head's presence: the target is log(P(grade > 0) / P(grade 0))."""
        from pytorch_grad_cam import GradCAM

        x = check_image(x, self.size)
        torch = self._torch
        if head not in getattr(self.model, "heads", {}):
            raise BackendError(f"{self.card.id}: no graded head {head!r}")
        model = self.model

        class _Head(torch.nn.Module):  # the head's logits as the CAM model's output
            def __init__(self):
                super().__init__()
                self.net = model

            def forward(self, t):
                return self.net.forward_heads(t)[head]

        def presence(logits):
            return torch.logsumexp(logits[1:], dim=0) - logits[0]

        tensor = self._to_nchw(x[None]).requires_grad_(True)
        maps = None
        with self._lock, torch.enable_grad():
            with GradCAM(model=_Head(), target_layers=[self.target_layer]) as cam:
                maps = cam(input_tensor=tensor, targets=[presence])
        if maps is None:
            raise BackendError(f"{self.card.id}: Grad-CAM failed for head {head!r}")
        return normalise_map(np.asarray(maps[0], dtype=np.float32))

    def warmup(self) -> None:
        x = np.zeros((*self.size, 3), dtype=np.float32)
        self.predict(x[None])
        self.analyse_one(x)

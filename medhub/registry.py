"""The loaded models of this process: load once, warm, and say how each one is doing.

`REGISTRY.get(model_id)` returns the model's `Predictor`, loading and warming it on first use;
`REGISTRY.status(model_id)` says whether it is idle (never asked for), loading, ready, or failed
with the reason (the tab shows it). The app marks every card "loading" at start and warms them in a
background thread (`warm_in_background`); a request for a model that is still loading waits for
that one load, not for the other models.

Thread-safe: one lock guards the tables, one lock per model serialises its load, so two requests
for the same cold model load it once, and a loaded model answers while another one is loading. A
model that failed is retried on the next request (its weights may have been fixed, or the Hub may be
reachable again) and keeps its error until then. Every load failure is a `ModelUnavailable` whose
message says why; nothing else escapes `get`.

`get_predictor(id)` is `REGISTRY.get(id)`; `REGISTRY.forget(id)` drops a retrained model;
`accepted_by(card, image)` says whether another card's model takes an image (the suggested tab).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medhub.cards import ModelCard, get_card
from medhub.inference import ModelUnavailable, Predictor, load_predictor

log = logging.getLogger("medhub.registry")

IDLE, LOADING, READY, ERROR = "idle", "loading", "ready", "error"


@dataclass(frozen=True)
class ModelStatus:
    state: str  # IDLE | LOADING | READY | ERROR
    error: str | None = None  # why it failed (ERROR only)

    @property
    def ready(self) -> bool:
        return self.state == READY


def load_and_warm(card: ModelCard) -> Predictor:
    """The default loader: resolve the weights, build the backend, run one dummy request."""
    predictor = load_predictor(card)
    warm = getattr(predictor.backend, "warmup", None)
    if warm is not None:
        warm()
    return predictor


class ModelRegistry:
    """Predictors by model id, with a status per id (see the module docstring)."""

    def __init__(
        self,
        cards_dir: Path | str | None = None,
        loader: Callable[[ModelCard], Predictor] = load_and_warm,
    ) -> None:
        self.cards_dir = cards_dir  # None: medhub.cards.CARDS_DIR
        self._loader = loader
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self._predictors: dict[str, Predictor] = {}
        self._status: dict[str, ModelStatus] = {}

    # ------------------------------------------------------------------ status

    def status(self, model_id: str) -> ModelStatus:
        with self._lock:
            if model_id in self._predictors:
                return ModelStatus(READY)
            status = self._status.get(model_id, ModelStatus(IDLE))
            # ready but no longer held (dropped with `forget`): idle again
            return ModelStatus(IDLE) if status.ready else status

    def statuses(self) -> dict[str, ModelStatus]:
        with self._lock:
            ids = set(self._status) | set(self._predictors)
        return {mid: self.status(mid) for mid in sorted(ids)}

    def mark_loading(self, model_ids: Iterable[str]) -> None:
        """Say "loading" for models that are about to be warmed (and are not loaded yet)."""
        with self._lock:
            for mid in model_ids:
                if mid not in self._predictors:
                    self._status[mid] = ModelStatus(LOADING)

    def _set(self, model_id: str, status: ModelStatus) -> None:
        with self._lock:
            self._status[model_id] = status

    # ------------------------------------------------------------------ loading

    def get(self, model_id: str) -> Predictor:
        """The model's predictor, loaded and warmed on first use. ModelUnavailable if it cannot load;
        KeyError for an id that has no card."""
        with self._lock:
            predictor = self._predictors.get(model_id)
            if predictor is not None:
                return predictor
            load_lock = self._load_locks.setdefault(model_id, threading.Lock())
        with load_lock:
            with self._lock:
                predictor = self._predictors.get(model_id)
                if predictor is not None:  # loaded by the thread we waited for
                    return predictor
            card = get_card(model_id, self.cards_dir)
            self._set(model_id, ModelStatus(LOADING))
            try:
                predictor = self._loader(card)
            except ModelUnavailable as err:
                self._set(model_id, ModelStatus(ERROR, str(err)))
                raise
            except Exception as err:  # noqa: BLE001 - any load failure is the model's, said in its tab
                message = f"{model_id}: the model could not be loaded: {type(err).__name__}: {err}"
                log.exception("model %s failed to load", model_id)
                self._set(model_id, ModelStatus(ERROR, message))
                raise ModelUnavailable(message) from err
            with self._lock:
                self._predictors[model_id] = predictor
                self._status[model_id] = ModelStatus(READY)
            return predictor

    def accepts(self, card: ModelCard, image: np.ndarray) -> bool:
        """Whether `card`'s own model takes `image` as in scope (its scope check on its own features):
        a refused image names another tab only when this is true. A model that cannot be loaded takes
        nothing."""
        try:
            predictor = self.get(card.id)
        except (ModelUnavailable, KeyError):
            return False
        if predictor.scope is None:
            return True
        _, (verdict,) = predictor.scope_batch([image])
        return bool(verdict.in_scope)

    def warm(self, model_ids: Iterable[str]) -> dict[str, ModelStatus]:
        """Load each model in turn; a failure is recorded in its status and does not stop the others."""
        ids = list(model_ids)
        self.mark_loading(ids)
        for mid in ids:
            try:
                self.get(mid)
                log.info("model %s ready", mid)
            except ModelUnavailable as err:
                log.warning("model %s unavailable: %s", mid, err)
        return {mid: self.status(mid) for mid in ids}

    def warm_in_background(self, model_ids: Iterable[str]) -> threading.Thread:
        """`warm` in a daemon thread; the models say "loading" from the moment this returns."""
        ids = list(model_ids)
        self.mark_loading(ids)
        thread = threading.Thread(target=self.warm, args=(ids,), name="medhub-warmup", daemon=True)
        thread.start()
        return thread

    def forget(self, model_id: str) -> None:
        """Drop a loaded model (e.g. after retraining): the next `get` loads it again."""
        with self._lock:
            self._predictors.pop(model_id, None)
            self._status.pop(model_id, None)


REGISTRY = ModelRegistry()


def get_predictor(model_id: str) -> Predictor:
    """The process-wide predictor for a model, loaded and warmed on first use."""
    return REGISTRY.get(model_id)


def accepted_by(card: ModelCard, image: np.ndarray) -> bool:
    """Whether `card`'s own (process-wide) model takes `image` as in scope (`ModelRegistry.accepts`)."""
    return REGISTRY.accepts(card, image)

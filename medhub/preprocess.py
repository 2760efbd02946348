"""Turn a decoded RGB image into the tensor a model expects, following the card's input contract.

Training, evaluation and the app all call `to_model_input`, so a model sees exactly the same
preprocessing in every place it runs.
"""

from __future__ import annotations

import cv2
import numpy as np

from medhub.cards import InputContract


def prescale(image: np.ndarray, longest: int | None) -> np.ndarray:
    """Bring an image down to `longest` px on its longest side (INTER_AREA); smaller ones pass."""
    h, w = image.shape[:2]
    if not longest or max(h, w) <= longest:
        return image
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def resize_for_model(image: np.ndarray, contract: InputContract) -> np.ndarray:
    """Resize (and for `center_crop`, crop) an RGB uint8 image to the model's input size."""
    height, width = contract.size
    image = prescale(image, contract.prescale)
    if contract.resize == "center_crop":
        h, w = image.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        image = image[top : top + side, left : left + side]
    shrinking = image.shape[0] > height or image.shape[1] > width
    # INTER_AREA avoids aliasing when shrinking; it is not meant for enlarging.
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def normalise(resized: np.ndarray, contract: InputContract) -> np.ndarray:
    """uint8 HWC RGB at model size -> float32 HWC, `(x / 255 - mean) / std`."""
    x = resized.astype(np.float32) * (1.0 / 255.0)
    mean = np.asarray(contract.mean, dtype=np.float32)
    std = np.asarray(contract.std, dtype=np.float32)
    return (x - mean) / std


def to_model_input(image: np.ndarray, contract: InputContract) -> np.ndarray:
    """RGB uint8 image of any size -> float32 HWC array ready for a backend."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("to_model_input expects an RGB uint8 array of shape (H, W, 3)")
    return normalise(resize_for_model(image, contract), contract)


def read_rgb(path) -> np.ndarray:
    """Read a trusted image file (training data) as RGB uint8, EXIF orientation applied.

    Uploads from users go through `medhub.imaging.load_upload` instead, which checks them first.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        return np.asarray(img.convert("RGB"))

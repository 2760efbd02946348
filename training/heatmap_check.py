"""Do the heat maps look at the lesion? A measured shortcut check for the dermoscopy models.

    python -m training.heatmap_check --model melanoma [--per-cell 20] [--tag pooled]

For a seeded sample of the model's test split (per collection and label; the clinical seborrheic
keratosis photos are left out), the app's Grad-CAM (`Predictor.analyse(explain=True)`, for the
decided class) is compared with the lesion mask of `medhub.abcd` (dilated by 5 % of the image
side): *lesion share* = the heat map's mass inside the mask, *area share* = the mask's share of the
image; their ratio (lift) is 1 for a map that ignores the lesion and grows as the map concentrates
on it. Also the share of heat in the outer 12 % frame of the image, where rulers, vignettes and ink
marks mostly sit, and in the four corner squares (12 % of the side each), where vignettes sit.
HAM10000 images come with the real lesion segmentation (`ham10000/masks/`): there the real mask is
used as is (not dilated), and the automatic outline is not needed.
Writes `training/runs/<id>/heatmap_check_<tag>.json`.
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np

from training.common import DATA_ROOT, RUNS, SPLITS, read_split_file, write_json


def measure(heat: np.ndarray, mask: np.ndarray, dilate: bool = True) -> tuple[float, float, float, float]:
    """(heat share on the lesion, lesion area share, heat share in the frame, heat share in the corners)."""
    import cv2

    h, w = mask.shape
    heat = cv2.resize(heat.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat, 0, None)
    k = max(3, int(0.05 * min(h, w)) | 1)
    grown = (cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool) if dilate
             else mask.astype(bool))
    total = float(heat.sum()) or 1.0
    frame = np.ones_like(grown)
    m = int(0.12 * min(h, w))
    frame[m:-m, m:-m] = False
    corners = np.zeros_like(grown)
    for rows in (slice(0, m), slice(h - m, h)):
        for cols in (slice(0, m), slice(w - m, w)):
            corners[rows, cols] = True
    return (float(heat[grown].sum() / total), float(grown.mean()), float(heat[frame].sum() / total),
            float(heat[corners].sum() / total))


def real_mask(path: str) -> np.ndarray | None:
    """HAM10000's lesion segmentation of an image (`ham10000/masks/<id>.png`), if there is one."""
    from PIL import Image

    if not path.startswith("ham10000/"):
        return None
    f = DATA_ROOT / "ham10000" / "masks" / (path.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".png")
    if not f.exists():
        return None
    with Image.open(f) as im:
        return np.asarray(im.convert("L")) > 127


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--per-cell", type=int, default=20)
    ap.add_argument("--tag", default="current")
    ap.add_argument("--split-model", default=None, help="take the sample from this model's split file")
    args = ap.parse_args()
    from medhub.abcd import compute_abcd
    from medhub.imaging import load_upload
    from medhub.registry import get_predictor

    items = [it for it in read_split_file(SPLITS / f"{args.split_model or args.model}.csv")
             if it.split == "test" and "seborrheic_keratosis" not in it.path]
    cells: dict[tuple, list] = {}
    for it in items:
        cells.setdefault((it.path.split("/")[0], it.label), []).append(it)
    sample = [it for _, rows in sorted(cells.items())
              for it in sorted(rows, key=lambda r: hashlib.sha1(r.path.encode()).hexdigest())[: args.per_cell]]
    predictor = get_predictor(args.model)
    rows = []
    for it in sample:
        img = load_upload(DATA_ROOT / it.path).rgb
        mask = real_mask(it.path)
        if mask is None or mask.shape != img.shape[:2]:
            seg = compute_abcd(img)
            if not seg.found:
                continue
            mask, kind = seg.mask, "abcd"
        else:
            kind = "real"
        res = predictor.analyse(img, explain=True)
        if res.heatmap is None or not np.isfinite(res.heatmap).all() or res.heatmap.max() <= 0:
            continue
        lesion, area, frame, corner = measure(res.heatmap, mask, dilate=kind == "abcd")
        rows.append({"path": it.path, "label": it.label, "decision": res.decision, "mask": kind,
                     "lesion_share": round(lesion, 4), "area_share": round(area, 4),
                     "frame_share": round(frame, 4), "corner_share": round(corner, 4)})
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(r["path"].split("/")[0], []).append(r)
    summary = {}
    for col, rs in sorted(by.items()) + [("all", rows)]:
        ls = np.array([r["lesion_share"] for r in rs])
        ar = np.array([r["area_share"] for r in rs])
        fr = np.array([r["frame_share"] for r in rs])
        co = np.array([r.get("corner_share", np.nan) for r in rs], dtype=float)
        summary[col] = {"n": len(rs), "mask": "/".join(sorted({r.get("mask", "abcd") for r in rs})),
                        "lesion_share_mean": round(float(ls.mean()), 3),
                        "corner_share_mean": round(float(np.nanmean(co)), 3) if np.isfinite(co).any() else None,
                        "area_share_mean": round(float(ar.mean()), 3),
                        "lift_median": round(float(np.median(ls / np.maximum(ar, 1e-6))), 3),
                        "frame_share_mean": round(float(fr.mean()), 3),
                        "maps_mostly_off_lesion": int((ls < 0.5).sum())}
    out = {"model_id": args.model, "tag": args.tag, "per_cell": args.per_cell,
           "revision": predictor.revision, "summary": summary, "rows": rows}
    write_json(RUNS / args.model / f"heatmap_check_{args.tag}.json", out)
    print(args.model, args.tag, summary)


if __name__ == "__main__":
    main()

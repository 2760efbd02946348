"""Do the heat maps look at the lesion? A measured shortcut check for the dermoscopy models.

    python -m training.heatmap_check --model melanoma [--per-cell 20] [--tag pooled]

For a seeded sample of the model's test split (per collection and label; the clinical seborrheic
keratosis photos are left out), the app's Grad-CAM (`Predictor.analyse(explain=True)`, for the
decided class) is compared with the lesion mask of `medhub.abcd` (dilated by 5 % of the image
side): *lesion share* = the heat map's mass inside the mask, *area share* = the mask's share of the
image; their ratio (lift) is 1 for a map that ignores the lesion and grows as the map concentrates
on it. Also the share of heat in the outer 12 % frame of the image, where rulers, vignettes and ink
marks mostly sit. Writes `training/runs/<id>/heatmap_check_<tag>.json`.
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np

from training.common import DATA_ROOT, RUNS, SPLITS, read_split_file, write_json


def measure(heat: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    import cv2

    h, w = mask.shape
    heat = cv2.resize(heat.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat, 0, None)
    k = max(3, int(0.05 * min(h, w)) | 1)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    total = float(heat.sum()) or 1.0
    frame = np.ones_like(grown)
    m = int(0.12 * min(h, w))
    frame[m:-m, m:-m] = False
    return float(heat[grown].sum() / total), float(grown.mean()), float(heat[frame].sum() / total)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--per-cell", type=int, default=20)
    ap.add_argument("--tag", default="current")
    ap.add_argument("--split-model", default=None, help="take the sample from this model's split file")
    args = ap.parse_args()
    from medhub.abcd import compute_abcd
    from medhub.imaging import load_upload
    from medhub.inference import get_predictor

    items = [it for it in read_split_file(SPLITS / f"{args.split_model or args.model}.csv")
             if it.split == "test" and "seborrheic_keratosis" not in it.path]
    cells: dict[tuple, list] = {}
    for it in items:
        cells.setdefault((it.path.split("/")[0], it.path.rsplit("/", 2)[-2]), []).append(it)
    sample = [it for _, rows in sorted(cells.items())
              for it in sorted(rows, key=lambda r: hashlib.sha1(r.path.encode()).hexdigest())[: args.per_cell]]
    predictor = get_predictor(args.model)
    rows = []
    for it in sample:
        img = load_upload(DATA_ROOT / it.path).rgb
        seg = compute_abcd(img)
        if not seg.found:
            continue
        res = predictor.analyse(img, explain=True)
        if res.heatmap is None or not np.isfinite(res.heatmap).all() or res.heatmap.max() <= 0:
            continue
        lesion, area, frame = measure(res.heatmap, seg.mask)
        rows.append({"path": it.path, "decision": res.decision, "lesion_share": round(lesion, 4),
                     "area_share": round(area, 4), "frame_share": round(frame, 4)})
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(r["path"].split("/")[0], []).append(r)
    summary = {}
    for col, rs in sorted(by.items()) + [("all", rows)]:
        ls = np.array([r["lesion_share"] for r in rs])
        ar = np.array([r["area_share"] for r in rs])
        fr = np.array([r["frame_share"] for r in rs])
        summary[col] = {"n": len(rs), "lesion_share_mean": round(float(ls.mean()), 3),
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

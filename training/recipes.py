"""The four torch recipes as data: card identity (titles, labels, input), data, and training settings.

`training/train_torch.py` runs a recipe; `training/write_card.py` renders its run record into the
model card. Prose that goes on a card and is not a measurement lives here too (intended use,
known biases); every number on a card comes from the run record.
"""

from __future__ import annotations

from typing import Any

DISCLAIMER_EN = (
    "Research and education only: the output is not a diagnosis. This model is not a medical "
    "device and its output can be wrong. Anyone worried about a skin or hair change should see a "
    "doctor (a dermatologist)."
)
DISCLAIMER_KO = (
    "연구 및 교육용입니다. 이 모델은 의료기기가 아니며 진단을 내리지 않습니다. 결과는 틀릴 수 "
    "있습니다. 피부나 모발의 변화가 걱정되면 의사(피부과 전문의)의 진료를 받으십시오."
)

COMMON_TRAIN: dict[str, Any] = {
    "architecture": "tf_efficientnet_lite0",
    "frozen": "conv_stem, bn1, blocks[:trunk_stages] (ImageNet weights, eval mode; features cached once)",
    "trained": "blocks[trunk_stages:], conv_head, bn2, classifier (trunk_stages 6 unless the recipe says)",
    "lp": {"weight_decay_grid": [1e-4, 1e-3, 1e-2], "max_iter": 200},
    # No label smoothing: with class weights, torch weights the smoothing term of every sample by
    # the rare class's weight, which pulled all predictions towards the rare class (seen here).
    "ft": {"batch_size": 64, "lr_tail": 1e-4, "lr_head": 3e-4, "weight_decay": 0.02,
           "label_smoothing": 0.0, "dropout": 0.2},
}

RECIPES: dict[str, dict[str, Any]] = {
    "melanoma": {
        "title": {"en": "Melanoma (dermoscopy)", "ko": "흑색종 (피부경 영상)"},
        "modality": "dermoscopy",
        "tags": ["medical-imaging", "dermoscopy", "melanoma", "research-only", "not-for-clinical-use"],
        "labels": [
            {"id": "benign", "en": "Benign lesion", "ko": "양성 병변",
             "aliases": ["nevus", "benign_keratosis"]},
            {"id": "malignant", "en": "Malignant (melanoma)", "ko": "악성 (흑색종)", "aliases": ["melanoma"]},
        ],
        "positive_class": "malignant",
        "threshold_rule": "youden",
        "data_dir": "melanoma",
        "extra_data_dirs": ["skin_lesion"],
        # Pooled training (issue 10): both dermoscopy collections, de-duplicated across sets,
        # one grouped split (training/make_splits.py make_pool_split), loss weights balanced by class
        # and collection, a cached augmented view against collection cues, val score = mean over
        # collections.
        # View 1 of a training image is a random augmented view (training.features.augment:
        # crop, flip, illuminant/brightness/contrast jitter, blur, JPEG) against collection cues.
        "augment_view": True,
        "balance": "collection_class",
        "select_by_collection": True,
        "dataset": "pooled dermoscopy: Kaggle Melanoma Skin Cancer Dataset of 10000 Images (ISIC-derived) and the "
                   "ISIC/HAM10000 melanoma, nevus and benign keratosis images of the Kaggle Skin Diseases Image "
                   "Dataset",
        "data_licence": "ISIC archive / HAM10000 images, CC BY-NC 4.0 (terms of the original data sets)",
        "license": "cc-by-nc-4.0",
        "epochs": 5,
        "targets": {"accuracy": 0.92, "auroc": 0.97},
        "class_weight_power": 1.0,
        "select": "auroc",
        "failure_notes": None,  # the previous model's notes no longer apply; see git history
        "intended_use": (
            "Teaching and demonstration: shows how a dermoscopy classifier separates benign "
            "lesions from melanoma, with a heat map of the image regions that drove the score. "
            "Users: the public trying sample images, educators in class, developers calling the API."
        ),
        "out_of_scope": (
            "Screening or diagnosing real patients; clinical (non-dermoscopic) photos, phone "
            "snapshots, mucosal or nail lesions; lesions other than melanocytic/benign lesions of "
            "this data set; any decision about treatment or biopsy."
        ),
        "biases": [
            "Images come from the ISIC archive via a Kaggle re-publication: mostly fair-skinned "
            "patients from European, US and Australian clinics; darker skin types are rare.",
            "The Kaggle set's origin and labelling protocol are only loosely documented "
            "(histopathology for most malignant lesions in ISIC, expert consensus for many benign).",
            "The two classes are nearly balanced here, unlike real practice where melanoma is rare; "
            "positive predictive value in a real population would be far lower.",
            "Collection shortcut, measured: trained on `melanoma/` alone, the previous model reached AUROC 0.975 "
            "on that set's test split but 0.042 on skin_lesion's melanoma vs nevus + benign keratosis (n = 6142), "
            "i.e. inverted: it had learned which ISIC collection (era) an image comes from, and in the two sets "
            "that cue points in opposite directions. Retrained the same way without skin_lesion (leave one "
            "collection out) it scores AUROC 0.052 there again (n = 5985). Pooled with balanced weights, the "
            "cue carries no label information and the model reaches AUROC 0.77 / 0.73 on the two test splits: "
            "that, not 0.975, is what this architecture learns about the lesion itself here. Both sets are ISIC "
            "re-publications, so a collection from another archive can behave differently.",
        ],
    },
    "skin_lesion": {
        "title": {"en": "Skin lesion type (5 classes)", "ko": "피부 병변 분류 (5종)"},
        "modality": "dermoscopy",
        "tags": ["medical-imaging", "dermoscopy", "skin-lesion", "research-only", "not-for-clinical-use"],
        "labels": [
            {"id": "melanoma", "en": "Melanoma", "ko": "흑색종", "aliases": ["malignant"]},
            {"id": "nevus", "en": "Melanocytic nevus (mole)", "ko": "멜라닌세포 모반 (점)"},
            {"id": "basal_cell_carcinoma", "en": "Basal cell carcinoma", "ko": "기저세포암"},
            {"id": "benign_keratosis", "en": "Benign keratosis", "ko": "양성 각화증"},
            {"id": "seborrheic_keratosis", "en": "Seborrheic keratosis or other benign tumour (clinical photo)",
             "ko": "지루각화증 및 기타 양성 종양 (임상 사진)"},
        ],
        "positive_class": None,
        "threshold_rule": None,
        "data_dir": "skin_lesion",
        "extra_data_dirs": ["melanoma"],
        # Pooled training (issue 10): both dermoscopy collections, de-duplicated across sets,
        # one grouped split (training/make_splits.py make_pool_split), loss weights balanced by class
        # and collection, a cached augmented view against collection cues, val score = mean over
        # collections.
        # View 1 of a training image is a random augmented view (training.features.augment:
        # crop, flip, illuminant/brightness/contrast jitter, blur, JPEG) against collection cues.
        "augment_view": True,
        "balance": "collection_class",
        "select_by_collection": True,
        "dataset": "pooled: Kaggle Skin Diseases Image Dataset (ISIC/HAM10000 dermoscopy; DermNet clinical photos "
                   "for seborrheic keratosis) and the malignant (melanoma) images of the Kaggle Melanoma Skin "
                   "Cancer Dataset of 10000 Images",
        "data_licence": "ISIC/HAM10000 CC BY-NC 4.0; DermNet images non-commercial",
        "license": "cc-by-nc-4.0",
        "epochs": 6,
        "targets": {"balanced_accuracy": 0.85},
        "class_weight_power": 1.0,
        "select": "balanced_accuracy",
        "failure_notes": None,  # the previous model's notes no longer apply; see git history
        "intended_use": (
            "Teaching and demonstration of multi-class lesion typing from a dermoscopy image, with "
            "a heat map. Users: the public, educators, developers."
        ),
        "out_of_scope": (
            "Diagnosis; any lesion type outside the five classes (the model always answers one of "
            "the five); clinical photos of lesions other than seborrheic keratosis; treatment "
            "decisions."
        ),
        "biases": [
            "SHORTCUT: all seborrheic keratosis images are clinical DermNet photographs (often "
            "watermarked), while the other four classes are dermoscopy images (ISIC/HAM10000). "
            "The model can recognise the photo type instead of the lesion; its seborrheic keratosis "
            "figures measure 'is this a clinical photo' as much as the disease. A dermoscopy image of "
            "a seborrheic keratosis would most likely be called benign keratosis (the HAM10000 "
            "'bkl' class, which includes seborrheic keratoses).",
            "The 'seborrheic keratosis' folder is DermNet's category 'seborrheic keratoses and other benign "
            "tumours': by file name only 451 of its 1847 photos are seborrheic (or stucco) keratoses; the others "
            "are dermatofibromas (137), keratoacanthomas (129), epidermal cysts (112), sebaceous hyperplasia (105), "
            "skin tags (98), keloids, porokeratosis and some 25 more entities. The class therefore means 'a clinical "
            "photo of one of these tumours', and the tab's label says so.",
            "ISIC/HAM10000 patients are mostly fair-skinned (Austria, Australia, US).",
            "HAM10000 holds several images of one lesion; without the lesion ids only exact and "
            "near-identical images could be kept in one split, so test figures may be optimistic.",
            "Collection shortcut, measured: this set's melanomas are ISIC 2019/2020-era images, its nevi and "
            "keratoses mostly HAM10000-era; trained on it alone (the previous model, and again as the leave-one-"
            "collection-out run) the model called only 12.7 % (11.5 % in the rerun, n = 4531) of the malignant "
            "images of `melanoma/` melanoma. The melanoma class now also holds that collection's malignant images "
            "(recall there 0.635 on its test split, n = 644); nevus, BCC and benign keratosis still come from one "
            "collection each (the melanoma set's benign folder mixes lesion types and cannot be used for them), "
            "so their figures may still lean on collection cues.",
        ],
    },
    "shingles": {
        "title": {"en": "Shingles (herpes zoster) vs other skin conditions",
                  "ko": "대상포진 vs 기타 피부 질환"},
        "modality": "clinical_photo",
        "tags": ["medical-imaging", "dermatology", "herpes-zoster", "research-only", "not-for-clinical-use"],
        "labels": [
            {"id": "herpes_zoster", "en": "Shingles (herpes zoster)", "ko": "대상포진"},
            {"id": "other", "en": "Other skin condition", "ko": "기타 피부 질환",
             "aliases": ["herpes_simplex", "eczema", "atopic_dermatitis", "psoriasis",
                         "fungal_infection", "warts_molluscum", "chickenpox", "cellulitis", "impetigo",
                         "athlete_foot", "nail_fungus", "ringworm", "larva_migrans"]},
        ],
        "positive_class": "herpes_zoster",
        "threshold_rule": "max_f1",
        "data_dir": "skin_condition",
        "extra_data_dirs": ["skin_condition_web"],
        # Pooled (issue 11): DermNet + the web collection, split by source photo (groups.csv), loss
        # weights balanced by class and collection, a cached augmented view, val AUROC = mean over
        # collections.
        "augment_view": True,
        "balance": "collection_class",
        "select_by_collection": True,
        "dataset": "pooled clinical photos: DermNet (Kaggle Skin Diseases Image Dataset; herpes files relabelled "
                   "by their DermNet file names) and the web-collected Kaggle Skin Disease Dataset (8 classes, "
                   "chickenpox as a hard negative)",
        "data_licence": "DermNet images, non-commercial use; web images: original terms unknown (MIT-licensed "
                        "re-publication)",
        "license": "cc-by-nc-4.0",
        "epochs": 8,
        "cv_epochs": 8,
        "class_weight_power": 1.0,
        "select": "auroc",
        # Measured by 5-fold grouped CV AUROC: training the tail on the seven source folders (the
        # six 'other' conditions kept apart), then a binary probe: 0.790 vs 0.769 for binary LP-FT;
        # a stronger L2 grid suits 45 positives; also fine-tuning blocks[5:] did not help (0.77).
        "aux_labels": "folder",
        "targets": {"auroc": 0.90, "f1:herpes_zoster": 0.60},  # issue 11
        "summary": None,  # written from the pooled run's figures
        "failure_notes": None,  # the previous model's notes no longer apply; see git history
        "lp_weight_decay_grid": [0.01, 0.03, 0.1],
        # 5-fold grouped CV (cross_validate) is supported; not run in the pooled round: on the shared
        # cores one fold took about 4 min. The bootstrap interval on test is computed.
        "cv_folds": 0,
        "bootstrap": True,
        "intended_use": (
            "Teaching and demonstration: whether a clinical photo of a rash looks more like "
            "shingles than like thirteen other skin conditions (chickenpox included), with a heat map."
        ),
        "out_of_scope": (
            "Diagnosis of shingles (a clinical diagnosis, confirmed by PCR when needed); "
            "conditions outside the fourteen of its two collections (the model has never seen normal "
            "skin, insect bites, drug eruptions ...); dermoscopy images; "
            "deciding on antiviral treatment."
        ),
        "biases": [
            "Few positives: 60 DermNet shingles photos plus 23 distinct web photos (the web set's 114 "
            "zoster files are augmented copies of about 22 photos; 91 copies were dropped by the "
            "perceptual de-duplication); the test split holds 11 shingles images (8 DermNet, 3 web), so "
            "test figures are very uncertain (see the cross-validation and bootstrap intervals).",
            "Chickenpox (same virus, similar vesicles) is in the 'other' class as a hard negative; the web "
            "collection's other conditions (cellulitis, impetigo, athlete's foot, nail fungus, ringworm, "
            "larva migrans) differ from DermNet's.",
            "DermNet photos are watermarked textbook cases, mostly on light skin; real phone photos "
            "differ in framing, light and severity.",
            "The 'other' class is six conditions; herpes simplex (178) is the most similar one.",
            "Scale and backbone, measured (`python -m training.shingles_study`, frozen ImageNet features + "
            "logistic regression, 5-fold grouped CV over the 1756 non-test images with 70 positives, "
            "`training/runs/shingles/backbone_study.json`): out-of-fold AUROC Lite0 at 224 px 0.834, at 320 px "
            "0.831, Lite2 at 260 px 0.836, Lite0 at 224 px with multi-crop (whole image + four 2/3 corner crops "
            "averaged, 5 forward passes) 0.857 (trained on DermNet, scored on the web collection: 0.792 vs 0.735). "
            "Neither resolution nor the larger backbone pays; multi-crop gains about 0.02 for 5x the compute; none "
            "comes near 0.90. The same frozen probe at 224 px scores above the served fine-tuned model's CV "
            "AUROC (0.79), so the fine-tuning overfits the 60-70 training positives; a frozen-probe head was "
            "not tried as the served model.",

        ],
    },
    "scalp_severity": {
        "title": {"en": "Hair loss severity (whole-head photo)", "ko": "탈모 중증도 (두피 전체 사진)"},
        "modality": "scalp_photo",
        "tags": ["medical-imaging", "hair-loss", "alopecia", "research-only", "not-for-clinical-use"],
        "labels": [
            {"id": "no_hair_loss", "en": "No visible hair loss", "ko": "탈모 없음", "grade": 0,
             "aliases": ["healthy", "notbald"]},
            {"id": "moderate_hair_loss", "en": "Moderate hair loss", "ko": "중등도 탈모", "grade": 2,
             "aliases": ["moderate"]},
            {"id": "severe_hair_loss", "en": "Severe hair loss / bald", "ko": "중증 탈모 (대머리)",
             "grade": 3, "aliases": ["severe", "bald"]},
        ],
        "positive_class": None,
        "threshold_rule": None,
        "data_dir": "scalp/bald_vs_not",
        "disclaimer": "scalp",
        "targets": {"accuracy": 0.85},
        "extra_data_dirs": ["scalp/hair_loss_severity"],
        "dataset": "web-collected whole-head photos: scalp/bald_vs_not (bald 540, notbald 547) and "
                   "scalp/hair_loss_severity (healthy 89, moderate 6, severe 166)",
        "data_licence": "web-collected photographs with no stated licence; demo use only",
        "license": "cc-by-nc-4.0",
        "epochs": 12,
        # Square-root inverse-frequency weights: full inverse frequency would give the 4 moderate
        # training images ~100x the weight of an ordinary image and the model would over-call them.
        "class_weight_power": 0.5,
        "select": "balanced_accuracy",
        "failure_notes": (
            "Looking at the most confident errors: the top one is a back-of-head photo with a visibly "
            "thinning crown that the collection files under 'notbald' (the same stock photo is also "
            "under 'bald': label noise, not a model error); another is an infographic collage of nine "
            "hairstyles (one of them a shaved 'baldie'), not a single head; one is a styled-hair "
            "advert with a text overlay and a high hairline; the 'oily-scalp' photo shows hands "
            "parting thin hair over a visible scalp. Errors concentrate on photos that are not a "
            "plain view of one head, and on labels that are themselves doubtful."
        ),
        "intended_use": (
            "Teaching and demonstration: a graded impression (0 none, 2 moderate, 3 severe) of "
            "visible hair loss on a photograph of the whole head, with a heat map."
        ),
        "out_of_scope": (
            "Scalp microscope (trichoscopy) images; dandruff, excess sebum, erythema, follicular "
            "pustules or any scalp disease (the original project's graded multi-symptom AI-Hub data "
            "is not open and is NOT assessed); the cause or type of hair loss (androgenetic, "
            "alopecia areata, ...); Norwood/Ludwig staging; treatment decisions."
        ),
        "biases": [
            "Only 6 'moderate' images exist (4 train, 1 val, 1 test): the moderate grade is "
            "effectively untrained and its figures mean nothing; there is no grade 1 (mild) data.",
            "Web-collected stock photos with no stated licence or ground-truth protocol: labels are "
            "the collectors' folder names; some photos appear in both 'bald' and 'notbald' (kept in "
            "one group so they never straddle splits, but the labels conflict).",
            "'bald' photos include thinning hair, so grade 3 mixes severe thinning and complete "
            "baldness; 'notbald' includes children and styled hair.",
        ],
    },
}

"""English and Korean strings of the user interface, in one place.

`STRINGS` maps a key to {"en": ..., "ko": ...}. `t(key, lang, **fields)` gives one string (falls back
to English, fills `str.format` fields). `translations(extra)` gives the per-locale dictionaries that
`gr.I18n` takes for the static parts of the page (the browser's locale picks the language there);
the app's language radio uses `t()` to redraw result texts and labels, because a projector's browser
is often set to English while the audience reads Korean.

Everything about a model (titles, label names, threshold) comes from its card, not from here.

Korean particles follow the word they attach to (영상을 / 이미지를, 사진으로 / 이미지로 / 길로):
`josa(word, "을/를")` gives the word with its particle, `particle(word, "을/를")` the particle alone,
from whether the word is read with a final consonant (the last Hangul syllable; digits and Latin
letters by how they are read aloud, e.g. "3" 삼, "CT" 티, "URL" 엘). In STRINGS a format field takes
its particle as a format spec: "{expects:을/를}" (word and particle) or "**{label}**{label:~을/를}"
(the particle alone, after Markdown around the word).
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "ko")
LANG_CHOICES = (("English", "en"), ("한국어", "ko"))

STRINGS: dict[str, dict[str, str]] = {
    # header
    "app.title": {
        "en": "medhub: medical image classifiers for research and education",
        "ko": "medhub: 연구·교육용 의료 영상 분류기",
    },
    "app.subtitle": {
        "en": "Real trained classifiers with Grad-CAM heat maps, one tab each. Try a sample image or upload your own; "
        "uploads are deleted from the server within an hour.",
        "ko": "실제로 학습한 분류기와 Grad-CAM 히트맵을 탭마다 보여 줍니다. "
        "샘플 이미지를 눌러 보거나 직접 올려 보세요. "
        "올린 파일은 한 시간 안에 서버에서 삭제됩니다.",
    },
    "lang.label": {"en": "Language / 언어", "ko": "언어 / Language"},
    "tab.about": {"en": "About / API", "ko": "소개 / API"},
    # inputs
    "upload.label": {
        "en": "Image (PNG, JPEG, WebP, BMP, TIFF)",
        "ko": "이미지 (PNG, JPEG, WebP, BMP, TIFF)",
    },
    "upload.label_dicom": {
        "en": "Image (PNG, JPEG, ...) or DICOM (.dcm)",
        "ko": "이미지 (PNG, JPEG 등) 또는 DICOM (.dcm)",
    },
    "analyse.button": {"en": "Analyse", "ko": "분석하기"},
    "samples.label": {
        "en": "Sample images: click one to analyse it",
        "ko": "샘플 이미지: 누르면 바로 분석합니다",
    },
    "window.label": {"en": "CT window (DICOM only)", "ko": "CT 창 설정 (DICOM 전용)"},
    "window.info": {
        "en": "Centre / width in Hounsfield units; the model sees the windowed slice.",
        "ko": "하운스필드 단위의 중심 / 폭입니다. 모델은 창 설정을 적용한 영상을 봅니다.",
    },
    "window.brain": {"en": "brain", "ko": "뇌"},
    "window.subdural": {"en": "subdural", "ko": "경막하"},
    "window.stroke": {"en": "stroke", "ko": "뇌졸중"},
    "window.bone": {"en": "bone", "ko": "뼈"},
    "window.file": {"en": "the file's own window", "ko": "파일에 저장된 창 설정"},
    "tta.label": {
        "en": "Test-time augmentation (average of 6 flips/rotations; slower)",
        "ko": "테스트 시 증강 (뒤집기·회전 6가지 평균, 더 느림)",
    },
    # outputs
    "probs.label": {"en": "Probabilities", "ko": "확률"},
    "input.label": {"en": "What the model sees", "ko": "모델에 들어간 영상"},
    "overlay.label": {"en": "Grad-CAM heat map", "ko": "Grad-CAM 히트맵"},
    "opacity.label": {"en": "Heat-map opacity", "ko": "히트맵 불투명도"},
    "summary.label": {"en": "Summary (JSON, as the API returns it)", "ko": "요약 (API가 돌려주는 JSON)"},
    "result.placeholder": {
        "en": "Pick a sample or upload an image, then press **Analyse**.",
        "ko": "샘플을 고르거나 이미지를 올린 뒤 **분석하기**를 누르세요.",
    },
    "card.accordion": {"en": "Model card (data, evaluation, limits)", "ko": "모델 카드 (데이터, 평가, 한계)"},
    "metrics.header": {"en": "Held-out test metrics", "ko": "테스트 데이터 성능"},
    "metrics.intro": {
        "en": "{dataset}; {split}; n = {n} images.",
        "ko": "{dataset}; {split}; 영상 {n}장.",
    },
    "metrics.columns": {
        "en": "| metric | value |",
        "ko": "| 지표 | 값 |",
    },
    "metrics.per_class": {
        "en": "| class | precision | recall | F1 | n |",
        "ko": "| 클래스 | 정밀도 | 재현율 | F1 | n |",
    },
    "metrics.accuracy": {"en": "accuracy", "ko": "정확도"},
    "metrics.balanced_accuracy": {"en": "balanced accuracy", "ko": "균형 정확도"},
    "metrics.auroc": {"en": "AUROC", "ko": "AUROC"},
    "metrics.ece": {"en": "calibration error (ECE)", "ko": "보정 오차 (ECE)"},
    "metrics.threshold": {"en": "decision threshold", "ko": "판정 임계값"},
    "disclaimer.title": {"en": "Not a diagnosis", "ko": "진단이 아닙니다"},
    # decision sentences
    # p and threshold come printed by medhub.result_text.compare (the precision that keeps "<" true)
    "decision.binary": {
        "en": "P({positive}) = {p} {op} threshold {threshold} (the model's decision rule)",
        "ko": "P({positive}) = {p} {op} 임계값 {threshold} (모델의 판정 규칙)",
    },
    "decision.multi": {
        "en": "The most probable of {n} classes (P = {p:.2f}).",
        "ko": "{n}개 클래스 중 확률이 가장 높은 클래스입니다 (P = {p:.2f}).",
    },
    "decision.tta": {
        "en": "Averaged over {n} flipped/rotated views.",
        "ko": "뒤집기·회전한 {n}가지 영상의 평균입니다.",
    },
    "scope.refused": {
        "en": "### Not answered: this image is outside what this model was made for",
        "ko": "### 답하지 않음: 이 모델이 다루도록 만들어진 영상이 아닙니다",
    },
    # Why an image was refused: what the tab reads, why this image is not that (said once), and the
    # tab that would answer it, if one would (tabs/texts.py scope_text).
    "scope.why": {
        "en": "This tab's model reads {expects}. This image lies far from the images it was trained on "
        "(distance {score:.3f}, limit {threshold:.3f}); to the model it looks like {seen}.",
        "ko": "이 탭의 모델은 {expects:을/를} 판독합니다. 이 영상은 모델이 학습한 영상과 거리가 멉니다 "
        "(거리 {score:.3f}, 한계 {threshold:.3f}). 모델에게는 {seen:으로/로} 보입니다.",
    },
    "scope.why_family": {
        "en": "This tab's model reads {expects}. To the model, this image looks like {seen}.",
        "ko": "이 탭의 모델은 {expects:을/를} 판독합니다. 모델에게 이 영상은 {seen:으로/로} 보입니다.",
    },
    "scope.suggest": {
        "en": "The **{tab}** tab reads that kind of image and accepts this one: try it there.",
        "ko": "그런 영상은 **{tab}** 탭에서 판독하며, 그 탭은 이 영상을 받아들입니다. 그 탭에서 사용해 보세요.",
    },
    "scope.no_answer": {
        "en": "No class probabilities and no heat map are shown, because any answer here would be a guess "
        "presented as a verdict. To see what the model would have said, for teaching, tick "
        '"Show the model\'s output anyway" and analyse again.',
        "ko": "여기서 나오는 답은 추측을 판정처럼 보이게 할 뿐이므로 클래스 확률과 히트맵을 보여 주지 않습니다. "
        '교육 목적으로 모델의 출력을 보려면 "그래도 모델 출력 보기"를 선택하고 다시 분석하세요.',
    },
    "scope.banner": {
        "en": "⚠️ **Out of scope, shown for teaching only.** The model was not made for this image; "
        "the probabilities and the heat map below are not a result.",
        "ko": "⚠️ **범위 밖 영상, 교육용으로만 표시합니다.** 모델이 다루도록 만들어진 영상이 아니므로 "
        "아래 확률과 히트맵은 결과가 아닙니다.",
    },
    "scope.toggle": {
        "en": "Show the model's output anyway (for teaching)",
        "ko": "그래도 모델 출력 보기 (교육용)",
    },
    "heat.empty": {
        "en": "No image region supports **{label}**: the Grad-CAM map is empty.",
        "ko": "**{label}**{label:~을/를} 뒷받침하는 영상 부위가 없습니다: Grad-CAM 히트맵이 비어 있습니다.",
    },
    "heat.explained": {
        "en": "The heat map shows the evidence for **{label}**, the decision above.",
        "ko": "히트맵은 위 판정인 **{label}**의 근거가 된 부분을 보여 줍니다.",
    },
    "heat.explained_other": {
        "en": "The heat map shows the evidence for **{label}** (this tab always maps that class), not for the "
        "decision above, **{decision}**.",
        "ko": "히트맵은 위 판정(**{decision}**)이 아니라 **{label}**의 근거가 된 부분을 보여 줍니다 "
        "(이 탭은 언제나 이 클래스의 근거를 표시합니다).",
    },
    # the rules of medhub/result_text.py (decision, borderline band, hedged results)
    "decision.borderline_tag": {"en": "borderline", "ko": "경계선"},
    "decision.borderline": {
        "en": "Borderline: P({positive}) is within {band} of the threshold ({low} to {high}), so a small change "
        "in the image could flip the decision.",
        "ko": "경계선 결과: {positive} 확률이 임계값에서 {band} 이내({low}~{high})에 있어, 영상이 조금만 "
        "달라져도 판정이 바뀔 수 있습니다.",
    },
    "decision.close_tag": {"en": "close call", "ko": "근소한 차이"},
    "decision.close": {
        "en": "Close call: **{second}** is almost as probable (P = {p2} against {p1}, less than {band} apart).",
        "ko": "근소한 차이: **{second}**의 확률도 거의 같습니다 (P = {p2}, 가장 높은 클래스는 {p1}; 차이 {band} 미만).",
    },
    "hedge.near_chance": {"en": "Near-chance guess", "ko": "우연 수준에 가까운 추정"},
    "hedge.below_target": {"en": "Tentative", "ko": "잠정 결과"},
    "caution.near_chance": {
        "en": "Experimental: near chance on its test split ({figures}; n = {n}). Read any result as a "
        "demonstration, not a finding.",
        "ko": "실험용 모델: 테스트 데이터에서 우연 수준에 가깝습니다 ({figures}; n = {n}). 결과는 시연일 뿐 "
        "소견이 아닙니다.",
    },
    "caution.below_target": {
        "en": "Below its targets on its test split ({figures}; n = {n}). Read any result with caution.",
        "ko": "테스트 데이터에서 목표에 못 미치는 모델입니다 ({figures}; n = {n}). 결과를 신중하게 읽으세요.",
    },
    "caution.chance": {"en": "{metric} {value}, chance {chance}", "ko": "{metric} {value}, 우연 수준 {chance}"},
    "caution.target": {"en": "{metric} {value}, target ≥ {target}", "ko": "{metric} {value}, 목표 ≥ {target}"},
    "caution.recall": {"en": "recall of {label}", "ko": "{label} 재현율"},
    "caution.precision": {"en": "precision of {label}", "ko": "{label} 정밀도"},
    "caution.f1": {"en": "F1 of {label}", "ko": "{label} F1"},
    "readfirst.title": {"en": "Read this first", "ko": "먼저 읽어 주세요"},
    "card.english_follows": {
        "en": "The full model card follows (in English).",
        "ko": "아래는 모델 카드 전문입니다 (영문).",
    },
    "readfirst.from_card": {
        "en": "From the model card:",
        "ko": "모델 카드에서 (영문 원문):",
    },
    # status of a tab's model
    "status.loading": {
        "en": "The model is still loading; the first analysis may take a few seconds longer.",
        "ko": "모델을 불러오는 중입니다. 첫 분석은 몇 초 더 걸릴 수 있습니다.",
    },
    "status.unavailable": {
        "en": "**This model is not available right now.** {reason}",
        "ko": "**지금은 이 모델을 쓸 수 없습니다.** {reason}",
    },
    "error.generic": {
        "en": "Something went wrong while analysing this file. Please try another image.",
        "ko": "파일을 분석하는 중에 문제가 생겼습니다. 다른 이미지로 다시 시도해 주세요.",
    },
    "error.no_file": {
        "en": "Please upload an image (or pick a sample) first.",
        "ko": "먼저 이미지를 올리거나 샘플을 골라 주세요.",
    },
    # intros by modality (what to upload)
    "intro.ct": {
        "en": "Upload an axial head-CT slice (PNG/JPEG, already windowed) or a DICOM file. For DICOM, "
        "choose the CT window; the model reads the windowed slice.",
        "ko": "머리 CT 축상 단면 영상(창 설정을 적용한 PNG/JPEG) 또는 DICOM 파일을 올리세요. DICOM이면 CT 창 "
        "설정을 고를 수 있고, 모델은 창 설정을 적용한 영상을 읽습니다.",
    },
    "intro.dermoscopy": {
        "en": "Upload a dermoscopy image (a close-up taken through a dermatoscope) of one skin lesion.",
        "ko": "피부 병변 하나를 피부경(더모스코프)으로 찍은 확대 영상을 올리세요.",
    },
    "intro.clinical_photo": {
        "en": "Upload a close-up photograph of the affected skin.",
        "ko": "증상이 있는 피부를 가까이에서 찍은 사진을 올리세요.",
    },
    "intro.scalp_photo": {
        "en": "Upload a photograph of the head or scalp, taken from above or from the front.",
        "ko": "머리나 두피를 위 또는 앞에서 찍은 사진을 올리세요.",
    },
    "intro.generic": {"en": "Upload an image.", "ko": "이미지를 올리세요."},
    # brain hemorrhage extras
    "ct.header": {"en": "DICOM header (no patient identifiers)", "ko": "DICOM 헤더 (환자 식별 정보 제외)"},
    "ct.field": {"en": "field", "ko": "항목"},
    "ct.value": {"en": "value", "ko": "값"},
    "ct.field.modality": {"en": "modality", "ko": "검사 종류"},
    "ct.field.body_part": {"en": "body part", "ko": "검사 부위"},
    "ct.field.slice_thickness_mm": {"en": "slice thickness (mm)", "ko": "절편 두께 (mm)"},
    "ct.field.window": {"en": "window", "ko": "창 설정"},
    "ct.field.transfer_syntax": {"en": "transfer syntax", "ko": "전송 구문"},
    "ct.field.rows": {"en": "rows", "ko": "행"},
    "ct.field.columns": {"en": "columns", "ko": "열"},
    "ct.region": {
        "en": "Strongest Grad-CAM response: **{region}** (3 x 3 grid of the head as seen on the slice).",
        "ko": "Grad-CAM 반응이 가장 강한 곳: **{region}** (영상에 보이는 머리를 3 x 3으로 나눈 구역).",
    },
    "ct.outside": {
        "en": "The strongest Grad-CAM response lies outside the head, in the background of the slice, so no "
        "brain region is named: a map that points outside the head says nothing about the brain.",
        "ko": "Grad-CAM 반응이 가장 강한 곳은 머리 바깥(영상의 배경)이므로 뇌 구역을 말하지 않습니다. 머리 "
        "바깥을 가리키는 히트맵은 뇌에 대해 아무것도 알려 주지 않습니다.",
    },
    "ct.strong": {
        "en": "The model strongly suggests a hemorrhage (P = {p} {op} threshold {threshold}).",
        "ko": "모델은 출혈 가능성을 강하게 시사합니다 (P = {p} {op} 기준 {threshold}).",
    },
    "ct.positive": {
        "en": "The model suggests a hemorrhage (P = {p} {op} threshold {threshold}).",
        "ko": "모델은 출혈 가능성을 시사합니다 (P = {p} {op} 기준 {threshold}).",
    },
    "ct.borderline": {
        "en": "Borderline: the hemorrhage probability is within {band} of the threshold (P = {p} {op} threshold "
        "{threshold}), too close to call either way.",
        "ko": "경계선 결과: 출혈 확률이 기준에서 {band} 이내라 (P = {p} {op} 기준 {threshold}) 어느 쪽이라고 "
        "말하기 어렵습니다.",
    },
    "ct.negative": {
        "en": "The model found no clear sign of hemorrhage (P = {p} {op} threshold {threshold}).",
        "ko": "모델은 출혈의 뚜렷한 징후를 찾지 못했습니다 (P = {p} {op} 기준 {threshold}).",
    },
    "ct.not_diagnosis": {
        "en": "This is not a diagnosis; a radiologist must read the scan.",
        "ko": "이는 진단이 아니며, 영상은 반드시 전문의가 판독해야 합니다.",
    },
    # melanoma extras
    "abcd.header": {"en": "ABCD features of the lesion", "ko": "병변의 ABCD 특징"},
    "abcd.outline": {"en": "Lesion outline used for ABCD", "ko": "ABCD 계산에 쓴 병변 윤곽"},
    "abcd.columns": {"en": "| feature | value | what it means |", "ko": "| 특징 | 값 | 의미 |"},
    "abcd.none": {
        "en": "No lesion could be outlined in this image, so the ABCD features are not shown.",
        "ko": "이 영상에서 병변 윤곽을 찾지 못해 ABCD 특징을 표시하지 않습니다.",
    },
    "abcd.note": {
        "en": "They are a teaching aid shown beside the classifier, not part of its decision.",
        "ko": "분류기 옆에 보여 주는 교육용 보조 자료이며, 분류기의 판단에는 쓰이지 않습니다.",
    },
    # scalp extras
    "grade.0": {"en": "good", "ko": "양호"},
    "grade.1": {"en": "mild", "ko": "경증"},
    "grade.2": {"en": "moderate", "ko": "중등도"},
    "grade.3": {"en": "severe", "ko": "중증"},
    "scalp.scale": {"en": "Severity scale", "ko": "중증도 단계"},
    "scalp.sentence": {
        "en": "Your scalp shows hair loss: **{grade_name}** (grade {grade} of {max_grade}).",
        "ko": "두피 상태: 탈모 **{grade_name}** ({max_grade}단계 중 {grade}단계).",
    },
    "scalp.sentence_none": {
        "en": "Your scalp shows no visible hair loss: **{grade_name}** (grade {grade} of {max_grade}).",
        "ko": "두피 상태: 눈에 띄는 탈모 없음, **{grade_name}** ({max_grade}단계 중 {grade}단계).",
    },
    "scalp.sentence_hedged": {
        "en": "{hedge}: hair-loss grade **{grade_name}** ({grade} of {max_grade}).",
        "ko": "{hedge}: 탈모 **{grade_name}** ({max_grade}단계 중 {grade}단계).",
    },
    "graded.disagree": {
        "en": "The overall grade above ({overall}) and the per-symptom grades (worst: {worst}) are separate outputs "
        "of the model and disagree here: one more sign of how unsure it is.",
        "ko": "위의 전체 단계({overall})와 증상별 단계(가장 심한 것: {worst})는 모델의 서로 다른 출력이며, "
        "여기서는 일치하지 않습니다. 모델이 그만큼 확신하지 못한다는 뜻입니다.",
    },
    "scalp.expected": {
        "en": "Expected grade (probability-weighted): {expected:.2f} of {max_grade}.",
        "ko": "확률 가중 평균 단계: {max_grade} 중 {expected:.2f}.",
    },
    "scalp.not_assessed": {
        "en": "This model grades visible hair loss on a head photograph only. It does not assess dandruff, "
        "sebum, redness, pustules or scalp disease, and it cannot tell the cause of hair loss.",
        "ko": "이 모델은 머리 사진에서 보이는 탈모 정도만 평가합니다. 비듬, 피지, 홍반, 농포나 두피 질환은 "
        "평가하지 않으며 탈모의 원인도 알 수 없습니다.",
    },
    # shingles extras
    "shingles.note": {
        "en": "**If you think you may have shingles, see a doctor promptly.** Antiviral medicine works best "
        "when started early, ideally within 72 hours of the rash appearing. Seek care urgently if the "
        "rash is near the eye, or if you are pregnant or have a weakened immune system.",
        "ko": "**대상포진이 의심되면 바로 병원에 가세요.** 항바이러스제는 일찍, 가능하면 발진이 생긴 지 "
        "72시간 안에 시작할 때 가장 효과가 좋습니다. 발진이 눈 가까이에 있거나, 임신 중이거나, 면역력이 "
        "약하다면 서둘러 진료를 받으세요.",
    },
    # about tab
    "about.intro": {
        "en": "**medhub** is an open-source demo hub of medical image classifiers for research and "
        "education. Each tab runs a real model trained on public data, shows every class's probability, "
        "the decision rule with its threshold, and a Grad-CAM heat map of where the model looked. "
        "Every model has a card (data, evaluation, limitations) under its tab.",
        "ko": "**medhub**는 연구와 교육을 위한 오픈소스 의료 영상 분류기 데모입니다. 각 탭은 공개 데이터로 "
        "학습한 실제 모델을 실행하여 모든 클래스의 확률, 임계값을 포함한 판정 규칙, 모델이 주목한 곳을 "
        "보여 주는 Grad-CAM 히트맵을 표시합니다. 각 탭 아래에 모델 카드(데이터, 평가, 한계)가 있습니다.",
    },
    "about.models": {"en": "Models and held-out test metrics", "ko": "모델과 테스트 성능"},
    "about.api": {"en": "Use it from code", "ko": "코드에서 사용하기"},
    "about.api_text": {
        "en": "Every tab is a named endpoint, `/predict_<model>`. It returns the probabilities (a Label keyed "
        "by label id; the summary's `labels` gives each id's English and Korean name), the heat-map overlay (an "
        "image file) and a JSON summary (model id, revision, threshold, decision, `borderline`, `caution` for "
        "a model whose own test figures are weak, disclaimer and the tab's extras). Only the file is required.",
        "ko": "각 탭은 `/predict_<모델>` 이라는 이름의 엔드포인트입니다. 확률(라벨 id를 키로 하는 Label, 각 id의 영어·"
        "한국어 이름은 요약의 `labels`), 히트맵 오버레이(이미지 파일), JSON 요약(모델 id, 리비전, 임계값, 판정, "
        "`borderline`, 테스트 성능이 약한 모델의 `caution`, 고지문, 탭별 추가 정보)을 돌려줍니다. 파일만 "
        "넘기면 됩니다.",
    },
    "about.api_params": {
        "en": "Each endpoint's parameters and their defaults are in the table above and under **Use via API** "
        "at the bottom of the page. An image the model was not made for comes back with `in_scope: false`, no probabilities "
        "(an empty Label, `probabilities: null`), no overlay, `decision: null` and `suggested_model` (a tab "
        "that would answer it, if one would); pass `show_anyway: true` to get the model's output anyway. "
        "Errors (an unreadable file, a model that cannot load) come back as an error message in English and "
        "Korean.",
        "ko": "각 엔드포인트의 매개변수와 기본값은 위 표와 페이지 아래쪽 **API 또는 MCP를 통해 사용**에 있습니다. "
        "모델이 다루지 않는 영상은 `in_scope: false`와 함께 확률 없이(빈 Label, `probabilities: null`), "
        "오버레이 없이, `decision: null`, `suggested_model`(답할 수 있는 탭이 있으면 그 탭)과 함께 돌아오며, "
        "`show_anyway: true`를 주면 그래도 모델 출력을 받습니다. 오류(읽을 수 없는 파일, 불러올 수 없는 모델)는 "
        "영어와 한국어 오류 메시지로 돌아옵니다.",
    },
    "about.disclaimer": {"en": "Disclaimer", "ko": "고지 사항"},
    "api.table_head": {
        "en": "| tab | endpoint | parameters after the file (default) |",
        "ko": "| 탭 | 엔드포인트 | 파일 다음 매개변수 (기본값) |",
    },
    "api.curl_intro": {
        "en": "With curl (Gradio's two-step API: upload the file, start the call with one value per parameter, "
        "read the result stream), one line per endpoint:",
        "ko": "curl로 부르기 (Gradio의 2단계 API: 파일을 올리고, 매개변수마다 값 하나씩 넣어 호출을 시작한 뒤, "
        "결과 스트림을 읽습니다). 엔드포인트마다 한 줄입니다:",
    },
}


def t(key: str, lang: str = "en", **fields: Any) -> str:
    """One UI string in `lang` ("en" or "ko"), with `str.format` fields filled in; a text field may
    carry its Korean particle as its format spec ("{seen:으로/로}", see `josa`)."""
    entry = STRINGS[key]
    text = entry.get(normalise_lang(lang)) or entry["en"]
    if not fields:
        return text
    return text.format(**{k: _Word(v) if isinstance(v, str) else v for k, v in fields.items()})


# ------------------------------------------------------------------------------- Korean particles

# Pairs as written in strings: the form after a final consonant, then the form after a vowel.
JOSA_PAIRS = ("을/를", "이/가", "은/는", "과/와", "으로/로", "이나/나", "아/야", "이라/라")

_CLOSING = {")": "(", "]": "[", "}": "{", "）": "（", "」": "「", "』": "『"}
_TRAILING_MARKS = " \t\n*_`'\"’”».,!?:;"
# How a digit is read when it ends a number (일, 이, 삼, ...): True = with a final consonant, "ㄹ" = ㄹ.
_DIGIT_FINAL: dict[str, bool | str] = {
    "0": True, "1": "ㄹ", "2": False, "3": True, "4": False, "5": False, "6": True, "7": "ㄹ", "8": "ㄹ", "9": False,
}
# Latin letter names as read in Korean: 엘 and 알 end in ㄹ, 엠 and 엔 in another consonant, the rest in a vowel.
_LETTER_FINAL: dict[str, bool | str] = {"L": "ㄹ", "R": "ㄹ", "M": True, "N": True}


def _reading_end(word: str) -> str:
    """The word without what is not read before a particle: trailing Markdown, quotes, punctuation and
    a parenthetical ("흑색종 (피부경 영상)" is read "흑색종"; "(melanoma)" alone is read "melanoma")."""
    text = str(word)
    while True:
        text = text.rstrip(_TRAILING_MARKS)
        if not text or text[-1] not in _CLOSING:
            return text
        opening, depth = _CLOSING[text[-1]], 0
        for i in range(len(text) - 1, -1, -1):
            if text[i] == text[-1]:
                depth += 1
            elif text[i] == opening:
                depth -= 1
                if depth == 0:
                    break
        else:
            return text[:-1]  # unbalanced: read what is before the bracket
        before = text[:i].rstrip(_TRAILING_MARKS)
        text = before if before else text[i + 1 : -1]


def _number_final(digits: str) -> bool | str:
    """A number read in Korean ends like its last non-zero place: 10 십, 100 백, 1000 천, 10000 만, else the digit."""
    digits = digits.replace(",", "")
    zeros = len(digits) - len(digits.rstrip("0"))
    if zeros == 0 or zeros == len(digits):
        return _DIGIT_FINAL[digits[-1]]
    return zeros < 12  # 십, 백, 천, 만, 억 all end in a consonant; 조 (10^12) does not


def _latin_final(letters: str) -> bool | str:
    """An acronym by its letter names (CT 티, MRI 아이, URL 엘); a word by a rough reading of English:
    -l 을, -m/-n/-ng, and a short vowel before -b/-k/-p/-t (web 웹, book 북, map 맵, cat 캣) end in a
    consonant; anything else (image 이미지, head 헤드, score 스코어) in a vowel."""
    if len(letters) == 1 or letters.isupper():
        return _LETTER_FINAL.get(letters[-1].upper(), False)
    w = letters.lower()
    if w.endswith("l"):
        return "ㄹ"
    if w.endswith(("m", "n", "ng", "ck")):
        return True
    return len(w) >= 2 and w[-1] in "bkpt" and w[-2] in "aeiou"


def final_consonant(word: str) -> bool | str:
    """How `word` ends when read aloud: False (a vowel), "ㄹ", or True (another final consonant).

    The last Hangul syllable decides; digits and Latin letters are read as Korean reads them; any other
    ending (a symbol such as %, 퍼센트) counts as a vowel, the form that reads right after most of them."""
    import re

    text = _reading_end(word)
    if not text:
        return False
    ch = text[-1]
    if "\uac00" <= ch <= "\ud7a3":
        final = (ord(ch) - 0xAC00) % 28
        return False if final == 0 else ("ㄹ" if final == 8 else True)
    if "\u3131" <= ch <= "\u314e":  # a bare consonant jamo (ㄱ .. ㅎ)
        return "ㄹ" if ch == "ㄹ" else True
    if ch.isdigit() and ch.isascii():
        return _number_final(re.search(r"[0-9][0-9,]*$", text).group())
    if ch.isascii() and ch.isalpha():
        return _latin_final(re.search(r"[A-Za-z]+$", text).group())
    return False


def particle(word: str, pair: str) -> str:
    """The particle of `pair` ("을/를", "이/가", "은/는", "과/와", "으로/로", ...) that follows `word`."""
    with_final, without = pair.split("/")
    final = final_consonant(word)
    if with_final == "으로":  # ㄹ takes 로: 길로, 파일로
        return without if final in (False, "ㄹ") else with_final
    return with_final if final else without


def josa(word: str, pair: str) -> str:
    """`word` with the particle of `pair` that fits it: josa("영상", "을/를") == "영상을"."""
    return f"{word}{particle(word, pair)}"


class _Word(str):
    """A text field of `t()`: the format spec "을/를" adds the fitting particle, "~을/를" gives it alone."""

    def __format__(self, spec: str) -> str:
        if "/" in spec:
            alone = spec.startswith("~")
            pair = spec.lstrip("~")
            return particle(self, pair) if alone else josa(str(self), pair)
        return format(str(self), spec)


def normalise_lang(lang: str | None) -> str:
    """ "ko", "ko-KR", "한국어" -> "ko"; anything else -> "en"."""
    if not lang:
        return "en"
    lang = str(lang).strip()
    return "ko" if lang.lower().startswith("ko") or lang == "한국어" else "en"


def both(key: str, **fields: Any) -> str:
    """ "English · 한국어" for places that must read in both languages at once."""
    return f"{t(key, 'en', **fields)} · {t(key, 'ko', **fields)}"


def translations(extra: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """{locale: {key: text}} for gr.I18n: every static string plus `extra` (e.g. card titles)."""
    merged = {**STRINGS, **(extra or {})}
    # Strings with format fields are filled in Python (t()); the browser's ICU formatter would try
    # to fill "{...}" itself, so they are not handed to it.
    return {
        lang: {key: value.get(lang) or value["en"] for key, value in merged.items() if "{" not in value["en"]}
        for lang in LANGS
    }


# --- issue 20: an image URL instead of an upload (tabs/layout.py, API parameter `image_url`) -------
STRINGS.setdefault("url.label", {
    "en": "... or an image URL (http/https)",
    "ko": "... 또는 이미지 URL (http/https)",
})


# --- issue 19: what a result means (tabs/teaching_panel.py): predictive values at a prevalence, the
# icon array, calibration in view and the threshold on the probability bar. Medical and statistical
# words follow medhub/teaching/glossary_ko.yaml (tests/test_teaching_panel.py checks the pairs).
STRINGS.update({
    "teach.accordion": {
        "en": "What this result means: predictive values at a prevalence, calibration",
        "ko": "이 결과의 의미: 유병률에 따른 예측도, 보정",
    },
    "bar.label": {"en": "Probability against the threshold", "ko": "임계값과 비교한 확률"},
    "bar.result": {
        "en": "P({positive}) = {p} {op} threshold {threshold} → {decision}",
        "ko": "P({positive}) = {p} {op} 임계값 {threshold} → {decision}",
    },
    "bar.waiting": {
        "en": "Threshold {threshold}: a probability of {positive} at or above it is flagged.",
        "ko": "임계값 {threshold}: {positive} 확률이 이 값 이상이면 양성으로 판정합니다.",
    },
    "bar.none": {
        "en": "No probability: the model did not answer (out of scope).",
        "ko": "확률 없음: 적용 범위 밖이라 모델이 답하지 않았습니다.",
    },
    "pv.header": {"en": "Predictive values at a prevalence", "ko": "유병률에 따른 예측도"},
    "pv.preset": {"en": "Prevalence: who is being tested?", "ko": "유병률: 누구를 검사하나요?"},
    "pv.custom": {"en": "another value (type it below)", "ko": "다른 값 (아래에 입력)"},
    "pv.value": {"en": "Prevalence (%)", "ko": "유병률 (%)"},
    "pv.source": {"en": "Source: {source}", "ko": "출처: {source}"},
    "pv.illustrative": {
        "en": "An illustrative value for teaching, not a measured prevalence.",
        "ko": "교육용 예시 값이며, 측정한 유병률이 아닙니다.",
    },
    "pv.own": {"en": "A prevalence you chose.", "ko": "직접 고른 유병률입니다."},
    "pv.rates": {
        "en": "From the model card's test split at the threshold {threshold}: sensitivity {sens} "
        "(95 % confidence interval {sens_ci}; {tp} of {n_pos}), specificity {spec} (95 % confidence "
        "interval {spec_ci}; {tn} of {n_neg}).",
        "ko": "모델 카드의 시험 세트, 임계값 {threshold} 기준: 민감도 {sens} (95 % 신뢰구간 {sens_ci}; "
        "{n_pos}건 중 {tp}건), 특이도 {spec} (95 % 신뢰구간 {spec_ci}; {n_neg}건 중 {tn}건).",
    },
    "pv.rates_top": {
        "en": "From the model card's test split, {condition} against the other {others} classes, flagged "
        "when {condition} is the top class (no threshold): sensitivity {sens} (95 % confidence interval "
        "{sens_ci}; {tp} of {n_pos}), specificity {spec} (95 % confidence interval {spec_ci}; {tn} of {n_neg}).",
        "ko": "모델 카드의 시험 세트, {condition} 대 나머지 {others}개 분류, {condition}{condition:~이/가} 최상위 "
        "분류일 때 양성으로 판정 (임계값 없음): 민감도 {sens} (95 % 신뢰구간 {sens_ci}; {n_pos}건 중 {tp}건), "
        "특이도 {spec} (95 % 신뢰구간 {spec_ci}; {n_neg}건 중 {tn}건).",
    },
    "pv.values": {
        "en": "At a prevalence of {prev}: **positive predictive value {ppv}** (range {ppv_ci}) · "
        "**negative predictive value {npv}** (range {npv_ci}).",
        "ko": "유병률 {prev}에서: **양성예측도 {ppv}** (범위 {ppv_ci}) · **음성예측도 {npv}** (범위 {npv_ci}).",
    },
    "pv.range_note": {
        "en": "Ranges: the values at both ends of the two 95 % confidence intervals, not a joint interval; "
        "the prevalence is taken as exact.",
        "ko": "범위: 두 95 % 신뢰구간의 양 끝에서 계산한 값이며, 결합 신뢰구간이 아닙니다. 유병률은 정확한 값으로 봅니다.",
    },
    "pv.this_flagged": {
        "en": "This image was flagged as **{positive}**. At this prevalence, about **{ppv}** of flagged "
        "{unit} really have {condition} (positive predictive value).",
        "ko": "이 영상은 **{positive}**{positive:~으로/로} 판정되었습니다. 이 유병률에서 양성으로 판정된 {unit} 중 "
        "실제 {condition}인 비율(양성예측도)은 약 **{ppv}**입니다.",
    },
    "pv.this_not_flagged": {
        "en": "This image was not flagged. At this prevalence, about **{npv}** of {unit} not flagged really "
        "are free of {condition} (negative predictive value).",
        "ko": "이 영상은 음성으로 판정되었습니다. 이 유병률에서 음성으로 판정된 {unit} 중 실제로 {condition}{condition:~이/가} "
        "없는 비율(음성예측도)은 약 **{npv}**입니다.",
    },
    "pv.this_not_top": {
        "en": "This image's top class is **{top}**, not {condition}, so it was not flagged. At this "
        "prevalence, about **{npv}** of {unit} not flagged really are free of {condition} (negative "
        "predictive value).",
        "ko": "이 영상의 최상위 분류는 **{top}**입니다. {condition}{condition:~이/가} 아니므로 음성으로 "
        "판정되었습니다. 이 유병률에서 음성으로 판정된 {unit} 중 실제로 {condition}{condition:~이/가} 없는 "
        "비율(음성예측도)은 약 **{npv}**입니다.",
    },
    "pv.not_binary": {
        "en": "Predictive values at a prevalence need a yes/no decision at a threshold. This model chooses "
        "among {n} classes and its card names no positive class, so none are shown here; the recall and "
        "precision of each class on its test split are in the model card below.",
        "ko": "유병률에 따른 예측도는 임계값으로 내리는 예/아니오 판정이 있어야 계산할 수 있습니다. 이 모델은 "
        "{n}개 클래스 중에서 고르며 모델 카드에 양성 클래스가 없으므로 여기서는 보여 주지 않습니다. 클래스별 "
        "재현율과 정밀도는 아래 모델 카드에 있습니다.",
    },
    "pv.unavailable": {
        "en": "Predictive values are not available: {reason}",
        "ko": "예측도를 계산할 수 없습니다: {reason}",
    },
    "pv.bad_value": {
        "en": "Type a prevalence between 0.1 and 99.9 %.",
        "ko": "유병률은 0.1 %에서 99.9 % 사이로 입력하세요.",
    },
    "icons.label": {
        "en": "Icon array: {per} {unit} at a prevalence of {prev}",
        "ko": "아이콘 배열: 유병률 {prev}의 {unit} {per}{counter}",
    },
    # the icon array's and the reliability diagram's categories are shown in both languages at once
    # ("true positive · 참양성"): a native plot keeps the categories it was first drawn with
    "icons.tp": {"en": "true positive", "ko": "참양성"},
    "icons.fp": {"en": "false positive", "ko": "위양성"},
    "icons.fn": {"en": "false negative (missed)", "ko": "위음성 (놓침)"},
    "icons.tn": {"en": "true negative", "ko": "참음성"},
    "cal.header": {
        "en": "Calibration: do its probabilities mean what they say?",
        "ko": "보정: 모델의 확률은 말한 만큼 맞을까?",
    },
    "cal.plot": {
        "en": "Reliability diagram of the test split (10 bins)",
        "ko": "시험 세트의 신뢰도 도표 (10구간)",
    },
    # the diagram's axes, shown in both languages at once (the plot is not redrawn on a language switch)
    "cal.x": {"en": "P of the decided class", "ko": "판정한 클래스의 확률"},
    "cal.y": {"en": "share right", "ko": "맞힌 비율"},
    "cal.model": {"en": "model (test split)", "ko": "모델 (시험 세트)"},
    "cal.perfect": {"en": "perfect calibration", "ko": "완벽한 보정"},
    "cal.ece": {
        "en": "Expected calibration error (ECE) {ece} on {n} test images (the card states {card_ece}): the "
        "average gap between the probability the model gives and how often it is right; 0 is perfect.",
        "ko": "기대 보정 오차(ECE) {ece}, 시험 영상 {n}장 (모델 카드: {card_ece}): 모델이 말한 확률과 실제로 맞힌 "
        "비율의 평균 차이이며, 0이 완벽합니다.",
    },
    "cal.this": {
        "en": "This result: P = {conf} for **{decided}**. Of the {count} test images the model gave "
        "{low}-{high}, it was right on {acc}.",
        "ko": "이 결과: **{decided}** 확률 {conf}. 모델이 {low}-{high}의 확률을 준 시험 영상 {count}장 중 "
        "{acc}를 맞혔습니다.",
    },
    "cal.missing": {
        "en": "The test predictions behind the reliability diagram ({file}) are not here; the card states "
        "an ECE of {ece}.",
        "ko": "신뢰도 도표의 근거인 시험 세트 예측 파일({file})이 없습니다. 모델 카드의 ECE는 {ece}입니다.",
    },
})


# --- issue 19: class mode (tabs/classmode.py), one case per screen from a deck (medhub.teaching.deck)
STRINGS.update({
    "class.tab": {"en": "Class mode", "ko": "수업 모드"},
    "class.setup": {"en": "Deck: model, kind, cases, seed", "ko": "사례 묶음: 모델, 종류, 사례 수, 시드"},
    "class.model": {"en": "Model", "ko": "모델"},
    "class.kind": {"en": "Deck", "ko": "사례 묶음"},
    "class.kind.right": {"en": "the model is right", "ko": "모델이 맞힌 사례"},
    "class.kind.wrong": {"en": "the model is wrong", "ko": "모델이 틀린 사례"},
    "class.kind.scope": {"en": "is this in scope?", "ko": "적용 범위 안일까?"},
    "class.n": {"en": "Cases", "ko": "사례 수"},
    "class.seed": {"en": "Seed (the same seed gives the same deck)", "ko": "시드 (같은 시드면 같은 사례 묶음)"},
    "class.start": {"en": "Start the deck", "ko": "시작"},
    "class.reveal": {"en": "Reveal (space)", "ko": "정답 보기 (스페이스)"},
    "class.next": {"en": "Next (→)", "ko": "다음 (→)"},
    "class.prev": {"en": "Back (←)", "ko": "이전 (←)"},
    "class.intro": {
        "en": "Choose a model and a deck, then **Start**. Keys: 1-9 vote, space reveals, → next.",
        "ko": "모델과 사례 묶음을 고른 뒤 **시작**을 누르세요. 키: 1-9 투표, 스페이스 정답 보기, → 다음.",
    },
    "class.case": {"en": "Case {i} of {n}", "ko": "사례 {i} / {n}"},
    "class.question": {"en": "What does this image show?", "ko": "이 영상은 무엇일까요?"},
    "class.question.scope": {
        "en": "Will the model answer (in scope) or refuse it?",
        "ko": "모델이 답할까요 (적용 범위 안), 거부할까요?",
    },
    "class.tally": {"en": "Votes", "ko": "투표"},
    "class.truth": {"en": "Truth", "ko": "정답"},
    "class.model_says": {"en": "The model says", "ko": "모델의 판정"},
    "class.no_answer": {"en": "no answer: out of scope", "ko": "답하지 않음: 적용 범위 밖"},
    "class.ans.in": {"en": "In scope", "ko": "적용 범위 안"},
    "class.ans.out": {"en": "Out of scope", "ko": "적용 범위 밖"},
    "class.unknown": {"en": "not this model's kind of image", "ko": "이 모델이 다루는 영상이 아님"},
    "class.empty": {"en": "No cases found for this deck here.", "ko": "이 사례 묶음에 해당하는 영상이 없습니다."},
    "class.done": {
        "en": "End of the deck: {right} of {n} answered like the truth by the class's top vote.",
        "ko": "끝: 학급 최다 득표가 정답과 같은 사례 {n}개 중 {right}개.",
    },
    "class.kind.shortcut": {"en": "what the model looks at", "ko": "모델은 어디를 볼까?"},
    "class.kind.history": {"en": "a split's figure is not the model's figure", "ko": "시험 세트의 수치는 모델의 수치가 아니다"},
    "class.deck_note": {"en": "About this deck", "ko": "이 사례 묶음에 대해"},
})


# --- issue 19: the PDF report (medhub/teaching/report.py, `report.*`; medical words as in
# medhub/teaching/glossary_ko.yaml) and the tab's Report button (tabs/report.py, `report_ui.*`)
STRINGS.update({
    "report.title": {"en": "medhub analysis report", "ko": "medhub 분석 보고서"},
    "report.model": {"en": "Model", "ko": "모델"},
    "report.file": {"en": "File", "ko": "파일"},
    "report.date": {"en": "Date (UTC)", "ko": "작성 일시 (UTC)"},
    "report.input": {"en": "Input", "ko": "입력 영상"},
    "report.overlay": {"en": "Grad-CAM heat map", "ko": "Grad-CAM 히트맵"},
    "report.no_overlay": {
        "en": "No heat map: the model did not answer (out of scope).",
        "ko": "히트맵 없음: 적용 범위 밖이라 모델이 답하지 않았습니다.",
    },
    "report.probs": {"en": "Probabilities", "ko": "확률"},
    "report.decision": {"en": "Decision", "ko": "판정"},
    "report.rule_binary": {"en": "{pos} if P({pos}) >= {thr}", "ko": "P({pos}) ≥ {thr}이면 {pos}"},
    "report.rule_argmax": {"en": "the most probable class", "ko": "확률이 가장 높은 분류"},
    "report.threshold": {"en": "Threshold", "ko": "임계값"},
    "report.no_decision": {
        "en": "No decision: the image is out of this model's scope.",
        "ko": "판정 없음: 이 모델의 적용 범위 밖 영상입니다.",
    },
    "report.shown_anyway": {
        "en": "OUT OF SCOPE, shown anyway for teaching: not a result.",
        "ko": "적용 범위 밖: 교육용으로만 표시한 값이며 결과가 아닙니다.",
    },
    "report.scope": {"en": "Scope check", "ko": "적용 범위 확인"},
    "report.in_scope": {"en": "in scope", "ko": "적용 범위 안"},
    "report.out_of_scope": {"en": "out of scope", "ko": "적용 범위 밖"},
    "report.scope_detail": {
        "en": "distance {score} (limit {thr}); image family: {family}",
        "ko": "거리 {score} (기준 {thr}); 영상 종류: {family}",
    },
    "report.suggested": {"en": "Try the model: {model}", "ko": "다음 모델을 사용해 보세요: {model}"},
    "report.provenance": {"en": "Model provenance", "ko": "모델 정보"},
    "report.revision": {"en": "revision", "ko": "리비전"},
    "report.weights": {"en": "weights", "ko": "가중치"},
    "report.pv": {"en": "What a positive flag means at a prevalence", "ko": "유병률에 따른 양성 판정의 의미"},
    "report.disclaimer": {"en": "Disclaimer", "ko": "주의"},
    "report.font_missing": {"en": "(No Korean font installed (fonts-nanum): this report is in English.)", "ko": "(한글 글꼴(fonts-nanum)이 설치되어 있지 않아 이 보고서는 영어로 작성되었습니다.)"},
    "report_ui.button": {"en": "Report (PDF)", "ko": "보고서 (PDF)"},
    "report_ui.file": {"en": "Report of the analysis (PDF)", "ko": "분석 보고서 (PDF)"},
})


# --- issue 20: a CT series (tabs/series.py)
STRINGS.update({
    "series.accordion": {"en": "Whole CT series (several slices)", "ko": "CT 시리즈 전체 (여러 슬라이스)"},
    "series.intro": {
        "en": "Upload the DICOM slices of ONE series (several files, or one zip). They are ordered by their "
        "position in the patient (not by file name), every slice is scored, and the study gets one "
        "result from the highest slice scores.",
        "ko": "한 시리즈의 DICOM 슬라이스를 올려 주세요(여러 파일 또는 zip 하나). 파일 이름이 아니라 환자 안에서의 위치로 정렬하고, 슬라이스마다 점수를 낸 뒤 가장 높은 "
        "점수들로 검사 전체의 결과를 냅니다.",
    },
    "series.files": {
        "en": "Slices of one CT series (DICOM files or a zip)",
        "ko": "한 CT 시리즈의 슬라이스 (DICOM 파일들 또는 zip)",
    },
    "series.aggregate": {"en": "Study score", "ko": "검사 점수"},
    "series.window": {"en": "CT window", "ko": "CT 창 설정"},
    "series.button": {"en": "Analyse the series", "ko": "시리즈 분석"},
    "series.plot": {"en": "Score per slice", "ko": "슬라이스별 점수"},
    "series.slider": {"en": "Slice (in position order)", "ko": "슬라이스 (위치 순서)"},
    "series.overlay": {"en": "This slice with its heat map", "ko": "이 슬라이스와 히트맵"},
    "series.summary": {"en": "Series result (JSON)", "ko": "시리즈 결과 (JSON)"},
    "series.agg.top3_mean": {"en": "mean of the top 3 slices", "ko": "상위 3개 슬라이스의 평균"},
    "series.agg.max": {"en": "highest slice", "ko": "가장 높은 슬라이스"},
})

"""The docstring of each model's endpoint function `predict_<id>`, written from its card.

Gradio serves every public endpoint as an MCP tool (`launch(mcp_server=True)`): the tool's name is
the function's `__name__`, its description the docstring's text before `Args:`, each parameter's
description its line under `Args:` (one line each: gradio reads `name: text` lines), and the
`Returns:` lines are appended to the description (`gradio.utils.get_function_description`). So an
agent reading the tool list learns what image the model expects, what comes back and that it is
not a diagnosis, from the same card the tab is built from.
"""

from __future__ import annotations

from medhub.cards import ModelCard
from medhub.disclaimers import disclaimer

# What each input modality of a card means for a caller (card.input.modality).
MODALITY_TEXT = {
    "ct": "one axial head-CT slice (a DICOM file, rendered with the model's CT window, or a PNG/JPEG of "
          "a windowed slice)",
    "dermoscopy": "a dermoscopy image of one skin lesion (PNG or JPEG)",
    "clinical_photo": "a clinical photograph of the affected skin (PNG or JPEG)",
    "scalp_photo": "a photograph of the whole head from above or the front (PNG or JPEG)",
    "scalp_microscope": "a scalp microscope (trichoscopy) image (PNG or JPEG)",
}

OPTION_TEXT = {
    "window": "CT window for a DICOM upload: brain, subdural, stroke, bone or file (default: the window the "
              "model was trained on).",
    "tta": "average the probabilities over flips and rotations (slower; default false).",
}


def tool_docstring(card: ModelCard, option_names: list[str]) -> str:
    """The `predict_<id>` docstring (Args / Returns) for `card`, with one Args line per parameter."""
    what = MODALITY_TEXT.get(card.input.modality, f"a {card.input.modality} image")
    labels = ", ".join(f"{lab.id} ({lab.en})" for lab in card.labels)
    if card.is_binary:
        rule = (f"decision is '{card.positive_class}' when P({card.positive_class}) >= {card.threshold:g} "
                "(the card's threshold), else the other label")
    else:
        rule = "decision is the label with the highest probability"
    args = [
        f"file: {what}; give either this or image_url.",
        *[f"{name}: {OPTION_TEXT.get(name, 'a tab option (see the model card).')}" for name in option_names],
        "opacity: heat-map opacity of the returned overlay image, 0 to 1 (default 0.45).",
        "show_anyway: give the decision even when the image is outside the model's scope (for teaching; "
        "default false).",
        "image_url: an http:// or https:// URL of the image, used when no file is given (at most the "
        "upload size limit; checked like an upload).",
    ]
    return "\n".join([
        f"{card.title_for('en')}: classify {what} with the '{card.id}' model ({card.architecture}) and explain "
        f"it with a Grad-CAM heat map. Labels: {labels}; {rule}. NOT A DIAGNOSIS: {disclaimer(card.disclaimer_domain, 'en')}",
        "",
        "Args:",
        *[f"    {line}" for line in args],
        "",
        "Returns:",
        "    the probabilities of every label (a Label), the Grad-CAM overlay image, and a JSON summary with "
        "model_id, revision, probabilities, decision (null when the image is out of scope), threshold, "
        "decision_rule, in_scope, scope_score, scope_threshold, scope_family, suggested_model (the tab that "
        "fits an out-of-scope image) and the disclaimer (English and Korean): research and education only, "
        "not a diagnosis and not a medical device.",
    ])

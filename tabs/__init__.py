"""The app's tabs. The generic tab is built from a model card by modules, one concern each:

| module | what |
|---|---|
| `layout.py` | `build_tab`, `TabParts`: the components of one tab |
| `wiring.py` | its events: the public `/predict_<id>`, re-blend, gallery samples |
| `handler.py` | the function behind `/predict_<id>` (`medhub.pipeline.run`, errors -> gr.Error) |
| `hooks.py` | `TabHooks`: what one model's tab adds (extra inputs and outputs, UI-only events) |
| `texts.py` | the Markdown/HTML a tab shows (decision, scope refusal, metrics, intro, disclaimer) |
| `status.py` | the loading / unavailable line (from `medhub.registry`) |
| `localise.py` | `Localiser` (the language radio) and name helpers |
| `samples.py` | the sample gallery's images |

`<model id>.py` (or a shared one, e.g. `graded.py`) defines `Hooks`, a `TabHooks` subclass, with only
what is special about that tab. Hooks are registered here by card id (a test checks that every key
is a card id and that every `tabs/<name>.py` with a `Hooks` class is registered, so a misspelt file
cannot be skipped silently)."""

TAB_HOOKS = {
    "brain_hemorrhage": "tabs.brain_hemorrhage",
    "melanoma": "tabs.melanoma",
    "scalp_severity": "tabs.scalp_severity",
    "scalp_microscope": "tabs.graded",
    "shingles": "tabs.shingles",
}

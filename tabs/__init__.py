"""The app's tabs. The generic tab is built from a model card by modules, one concern each:

| module | what |
|---|---|
| `layout.py` | `build_tab`: lays out the components of one tab |
| `parts.py` | `TabParts`: the components of one tab, for the layout, the events and the hooks |
| `wiring.py` | its events: the public `/predict_<id>`, re-blend, gallery samples |
| `handler.py` | the function behind `/predict_<id>` (`medhub.pipeline.run`, errors -> gr.Error) |
| `hooks.py` | `TabHooks`: what a tab adds (extra inputs and outputs, UI-only events); `ComposedHooks` |
| `views.py` | `hooks_for(card)`: the hooks a card asks for (a view per result extra, DICOM input) |
| `texts.py` | the Markdown/HTML a tab shows (decision, scope refusal, metrics, intro, disclaimer) |
| `status.py` | the loading / unavailable line (from `medhub.registry`) |
| `localise.py` | `Localiser` (the language radio) and name helpers |
| `samples.py` | the sample gallery's images |
| `output_files.py` | output images written as JPEG files, atomically |
| `result_cache.py` | identical requests served once (single flight) |
| `tool_docs.py`, `mcp_compat.py` | the MCP tools' descriptions from the cards; a gradio MCP fix |
| `report.py` | the Report button and `/report_<id>` (`medhub.teaching.report`) |
| `series.py` | the CT series section of a binary DICOM card (`medhub.series`) |
| `classmode.py` | class mode: one case per screen from a deck, votes, reveal |

The views, one per result extra (`medhub/result_extras.py`), each a `TabHooks` subclass named `Hooks`:
`ct_region.py`, `abcd.py`, `severity.py`, `graded_heads.py`, `advice.py` (`see_a_doctor_soon`); and
`dicom_window.py`, the CT window selector of any DICOM card. They are chosen by what a card asks for
(`tabs.views.VIEWS`), never by card id, so a new card that reuses them needs no file here."""

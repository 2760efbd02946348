"""The studies: measurements of the models, apart from the request path.

| module | command | what it measures or does |
|---|---|---|
| `crosscollection.py` | `python -m medhub cross-collection` | every model on every collection of its modality |
| `robustness.py` | `python -m medhub robustness` | the figures under degraded images (JPEG, blur, noise, ...) |
| `scope_report.py` | `python -m medhub scope-report` | the scope check's acceptance and refusal rates |
| `bench/` | `python -m medhub bench` | speed in process and through the app's API (starts the app as a process) |
| `publish.py` | `python -m medhub publish` | pushes `weights/<id>/` to a Hub repo |
| `malformed_corpus.py` | - | malformed uploads built in code (the tests and scripts/gate_bench.py) |

Each study has one shape: `run(...)` measures and returns a result; where the result belongs on a
card, `card_value(result)` is its front-matter value and `card_block(result)` its Markdown block
(`medhub/cardblocks.py` keeps both across a card's rewrite); `add_parser(subparsers)` is its CLI
command. `medhub/cli.py` registers the commands from its `STUDIES` list.

Nothing on the request path (app.py, tabs/, medhub.pipeline, medhub.inference, medhub.registry)
imports this package (tests/test_import_graph.py checks it); a study may import the request path.
"""

"""The README keeps its promises: two set-up commands, the model table from the cards, the disclaimer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_space_front_matter():
    head = README.split("---")[1]
    assert "sdk: gradio" in head and "app_file: app.py" in head


def test_exactly_two_setup_commands_and_ci_uses_the_test_one():
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", setup, flags=re.DOTALL)
    assert [b.strip() for b in blocks] == ["make run", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_model_table_matches_cards():
    out = subprocess.run([sys.executable, "scripts/update_readme.py", "--check"], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_disclaimer_in_both_languages():
    assert "not a diagnosis" in README and "진단이 아니며" in README

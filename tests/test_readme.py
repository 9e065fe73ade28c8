"""README starts with the two commands; CI runs README's test command verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_commands_and_ci_agree():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = readme[readme.index("```bash") + 1:readme.index("```bash") + 3]
    assert block[0] == "python -m pip install -e . && gnn-design compile specs/hybrid_precoding.yaml"
    test_command = block[1]
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci

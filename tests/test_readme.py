"""The README's Python examples run as written (training budgets shrunk)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, tmp_path, monkeypatch) -> None:
    code = BLOCKS[index]
    if code.startswith("# continues the example above"):
        code = BLOCKS[index - 1] + code
    if "stable_baselines3" in code:
        pytest.importorskip("stable_baselines3")
    # Keep the documented budgets in the README, run a small one here.
    code = re.sub(r"total_timesteps=[\d_]+", "total_timesteps=256", code)
    code = re.sub(r"n_steps=[\d_]+", "n_steps=64", code)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md[{index}]", "exec"), {"__name__": "__readme__"})

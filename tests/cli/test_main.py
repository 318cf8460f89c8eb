import subprocess
import sys

import pytest

from lucidgym.cli import build_parser, main


@pytest.mark.parametrize("argv", [["--help"], ["envs"]])
def test_help_and_envs_start_without_torch(argv):
    code = (
        "import sys\n"
        "from lucidgym.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.splitlines()[-1] == "False"


def test_every_sub_command_is_listed(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    for command in ("envs", "bench", "train", "eval", "render", "data", "export"):
        assert f"    {command} " in shown
    choices = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(choices) == {"envs", "bench", "train", "eval", "render", "data", "export"}


def test_no_command_prints_the_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out

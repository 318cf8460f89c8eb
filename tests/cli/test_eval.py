import pytest

from lucidgym.cli import main


def test_a_missing_checkpoint_exits_2_with_one_line(capsys):
    assert main(["eval", "world-model", "/nonexistent/checkpoint"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "world-model", "--help"])
    assert exit_info.value.code == 0
    assert "--horizon" in capsys.readouterr().out

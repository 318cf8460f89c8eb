from lucidgym.cli import main
from lucidgym.envs.registration import env_ids


def test_envs_lists_every_id_with_its_spaces(capsys):
    assert main(["envs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "observation", "space"]
    assert [line.split()[0] for line in lines[1:]] == list(env_ids())
    assert "Box(0, 1, (8,), float32)" in lines[1] and "Discrete(8)" in lines[1]

import argparse
from dataclasses import dataclass

import pytest

from lucidgym.cli.options import (
    CLIError,
    LazyParser,
    add_config_options,
    config_values,
    parse_set,
    parse_sets,
)


@dataclass
class ToyConfig:
    """Options of a toy."""

    steps: int = 5
    """Steps to take."""
    rate: float | None = 0.5
    """A 50% rate (``None``: none)."""
    name: str = "toy"
    """Its name."""
    loud: bool = False
    """Whether it speaks up."""
    secret: int = 0
    """Set by the command itself."""


def test_parse_set_reads_json_else_a_string():
    assert parse_sets(["horizon=12", "model=mlp", "scale=0.5", "dims=[1, 2]", "on=true"]) == {
        "horizon": 12, "model": "mlp", "scale": 0.5, "dims": [1, 2], "on": True,
    }  # fmt: skip
    assert parse_sets(["x=1", "x=2"]) == {"x": 2}
    assert parse_set("sb3:PPO:lr=1e-3", scoped=True) == ("sb3:PPO", "lr", 1e-3)
    assert parse_set("lr=a=b", scoped=True) == (None, "lr", "a=b")


@pytest.mark.parametrize("pair", ["horizon", "=3", "two words=1", "a:b=1"])
def test_parse_set_refuses_a_malformed_pair(pair):
    with pytest.raises(CLIError, match="key=value"):
        parse_set(pair)


def test_config_options_have_the_fields_defaults_and_docstrings():
    parser = argparse.ArgumentParser()
    add_config_options(parser, ToyConfig, skip=["secret"], defaults={"name": ("x", "default: x")})
    args = parser.parse_args([])
    assert config_values(args, ToyConfig, skip=["secret"]) == {
        "steps": 5, "rate": 0.5, "name": "x", "loud": False,
    }  # fmt: skip
    args = parser.parse_args(["--steps", "7", "--rate", "none", "--loud"])
    assert (args.steps, args.rate, args.loud) == (7, None, True)
    shown = parser.format_help()
    assert "Steps to take (default: 5)" in shown and "A 50% rate (None: none)" in shown
    assert "--no-loud" in shown and "--secret" not in shown
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "many"])


def test_lazy_parser_fills_its_options_once_when_used():
    calls = []

    def fill(parser):
        calls.append(parser)
        parser.add_argument("--steps", type=int, default=1)

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", parser_class=LazyParser)
    sub.add_parser("run", fill=fill)
    sub.add_parser("other")
    assert parser.parse_args(["other"]).command == "other" and calls == []
    assert parser.parse_args(["run", "--steps", "3"]).steps == 3
    assert parser.parse_args(["run"]).steps == 1 and len(calls) == 1

"""Config dataclasses: one builder that refuses unknown keys, field docstrings read back."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lucidgym.configs import build_config, check_keys, config_keys, field_docs


@dataclass
class Base:
    """Options."""

    steps: int = 10
    """Gradient steps
    of one fit."""
    lr: float = 1e-3


@dataclass
class Child(Base):
    """More options."""

    seed: int = 0
    """Seeds everything."""


def test_field_docs_read_each_fields_docstring_including_the_bases() -> None:
    assert field_docs(Child) == {
        "steps": "Gradient steps of one fit.",
        "lr": "",
        "seed": "Seeds everything.",
    }


def test_build_config_refuses_unknown_keys_listing_the_valid_ones() -> None:
    assert build_config(Child, {"seed": 3}, "x") == Child(seed=3)
    assert build_config(Child, None, "x") == Child()
    given = Child(lr=0.5)
    assert build_config(Child, given, "x") is given
    with pytest.raises(
        ValueError,
        match=r"dyna: unknown config keys \['sed'\]; valid keys: \['lr', 'seed', 'steps'\]",
    ):
        build_config(Child, {"sed": 1}, "dyna")


def test_check_keys_and_config_keys() -> None:
    assert config_keys(Base, Child) == {"steps", "lr", "seed"}
    check_keys("a", ["lr"], {"lr"})
    with pytest.raises(ValueError, match="a: unknown config keys"):
        check_keys("a", ["x"], {"lr"})

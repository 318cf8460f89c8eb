"""Fixtures every test shares."""

import os
from collections.abc import Iterator

# Headless pygame for the human render mode; set here, never in library code.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pytest  # noqa: E402
import torch  # noqa: E402

# Two test workers share two cores: one torch thread each avoids oversubscription.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread for every test, restored after it.

    Small recurrent batches run several times faster on one thread than on two, and a
    test that changes the thread count must not leak it to the next.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

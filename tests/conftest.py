import os

# Headless pygame for the human render mode; set here, never in library code.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import torch  # noqa: E402

# Two test workers share two cores: one torch thread each avoids oversubscription.
torch.set_num_threads(1)

"""Drawing into NumPy frames, and the pygame window behind ``render_mode="human"``.

Frames are drawn straight into ``uint8`` arrays so that ``rgb_array`` needs nothing
beyond NumPy; pygame is imported only when a window is opened.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

# A 3x5 bitmap font: each glyph is five rows of three pixels ("#" on).
_GLYPHS: dict[str, str] = {
    "0": "### #.# #.# #.# ###",
    "1": ".#. ##. .#. .#. ###",
    "2": "##. ..# .#. #.. ###",
    "3": "##. ..# .#. ..# ##.",
    "4": "#.# #.# ### ..# ..#",
    "5": "### #.. ##. ..# ##.",
    "6": ".## #.. ### #.# ###",
    "7": "### ..# .#. .#. .#.",
    "8": "### #.# ### #.# ###",
    "9": "### #.# ### ..# ##.",
    "A": ".#. #.# ### #.# #.#",
    "B": "##. #.# ##. #.# ##.",
    "C": ".## #.. #.. #.. .##",
    "D": "##. #.# #.# #.# ##.",
    "E": "### #.. ##. #.. ###",
    "F": "### #.. ##. #.. #..",
    "G": ".## #.. #.# #.# .##",
    "H": "#.# #.# ### #.# #.#",
    "I": "### .#. .#. .#. ###",
    "J": "..# ..# ..# #.# .#.",
    "K": "#.# #.# ##. #.# #.#",
    "L": "#.. #.. #.. #.. ###",
    "M": "#.# ### ### #.# #.#",
    "N": "##. #.# #.# #.# #.#",
    "O": ".#. #.# #.# #.# .#.",
    "P": "##. #.# ##. #.. #..",
    "Q": ".#. #.# #.# ##. .##",
    "R": "##. #.# ##. #.# #.#",
    "S": ".## #.. .#. ..# ##.",
    "T": "### .#. .#. .#. .#.",
    "U": "#.# #.# #.# #.# ###",
    "V": "#.# #.# #.# #.# .#.",
    "W": "#.# #.# ### ### #.#",
    "X": "#.# #.# .#. #.# #.#",
    "Y": "#.# #.# .#. .#. .#.",
    "Z": "### ..# .#. #.. ###",
    " ": "... ... ... ... ...",
    ".": "... ... ... ... .#.",
    ":": "... .#. ... .#. ...",
    "-": "... ... ### ... ...",
    "+": "... .#. ### .#. ...",
    "=": "... ### ... ### ...",
    "/": "..# ..# .#. #.. #..",
    "%": "#.# ..# .#. #.. #.#",
    "?": "##. ..# .#. ... .#.",
    "_": "... ... ... ... ###",
    "(": ".#. #.. #.. #.. .#.",
    ")": ".#. ..# ..# ..# .#.",
}
_FONT = {
    ch: np.array([[c == "#" for c in row] for row in rows.split()], dtype=bool)
    for ch, rows in _GLYPHS.items()
}


def draw_text(
    canvas: np.ndarray,
    text: str,
    x: int,
    y: int,
    color: tuple[int, int, int] = (255, 255, 255),
    scale: int = 2,
) -> None:
    """Write ``text`` (upper-cased; unknown characters as '?') into ``canvas [H, W, 3]``.

    ``(x, y)`` is the top-left corner; each glyph is ``3 * scale`` wide plus one
    ``scale`` of spacing. Text running off the canvas is clipped.
    """
    height, width = canvas.shape[:2]
    for i, ch in enumerate(text.upper()):
        glyph = _FONT.get(ch, _FONT["?"])
        block = np.kron(glyph, np.ones((scale, scale), dtype=bool))
        x0 = x + i * 4 * scale
        y0 = y
        if x0 >= width or y0 >= height:
            break
        h = min(block.shape[0], height - y0)
        w = min(block.shape[1], width - x0)
        if h <= 0 or w <= 0:
            continue
        region = canvas[y0 : y0 + h, x0 : x0 + w]
        region[block[:h, :w]] = color


def fill_rect(
    canvas: np.ndarray, x: int, y: int, w: int, h: int, color: tuple[int, int, int]
) -> None:
    """Fill the rectangle with top-left ``(x, y)``, clipped to the canvas."""
    height, width = canvas.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = color


def draw_bar(
    canvas: np.ndarray,
    x: int,
    y: int,
    w: int,
    h: int,
    fraction: float,
    color: tuple[int, int, int],
    background: tuple[int, int, int] = (50, 50, 60),
) -> None:
    """A horizontal gauge filled to ``fraction`` (clipped to [0, 1])."""
    fill_rect(canvas, x, y, w, h, background)
    fill_rect(canvas, x, y, int(round(w * float(np.clip(fraction, 0.0, 1.0)))), h, color)


class HumanWindow:
    """A pygame window showing ``rgb_array`` frames at the env's ``render_fps``."""

    def __init__(self, title: str, fps: int) -> None:
        self.title = title
        self.fps = fps
        self._pygame: Any = None
        self._screen: Any = None
        self._clock: Any = None

    def show(self, frame: np.ndarray) -> None:
        """Display ``frame [H, W, 3] uint8``, opening the window on first use."""
        if self._pygame is None:
            try:
                import pygame
            except ImportError as err:
                raise DependencyNotInstalled(
                    'pygame is needed for render_mode="human": '
                    'pip install "lucidgym[human]" (or pip install pygame)'
                ) from err
            # Only the display: pygame.init() would also open the audio device.
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._pygame = pygame
            self._screen = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
            self._clock = pygame.time.Clock()
        pygame = self._pygame
        pygame.event.pump()
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self._screen.blit(surface, (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        """Close the window if one is open."""
        if self._pygame is not None:
            self._pygame.display.quit()
            self._pygame.quit()
            self._pygame = None
            self._screen = None

    def __getstate__(self) -> dict[str, Any]:
        # An open window cannot travel; a pickled env reopens one on its next render.
        return {
            "title": self.title,
            "fps": self.fps,
            "_pygame": None,
            "_screen": None,
            "_clock": None,
        }

from pathlib import Path

import numpy as np

from lucidgym.benchmarks import plots


def _curve(agent: str, model: str, seed: int, steps: list[float]) -> dict:
    returns = [float(np.sin(s + seed)) for s in range(len(steps))]
    return {"env": "Tutoring-v0", "agent": agent, "model": model, "seed": seed,
            "env_steps": steps, "episode_return": returns}  # fmt: skip


def test_learning_curves_share_a_line_where_learners_collected_alike(tmp_path, monkeypatch):
    drawn: list[str] = []
    real_plot = plots._pyplot

    def spying_pyplot():
        plt = real_plot()
        original = plt.Axes.plot

        def plot(ax, *args, **kwargs):
            drawn.append(kwargs.get("label", ""))
            return original(ax, *args, **kwargs)

        monkeypatch.setattr(plt.Axes, "plot", plot)
        return plt

    monkeypatch.setattr(plots, "_pyplot", spying_pyplot)
    short = [100.0, 200.0, 300.0]
    curves = [_curve(a, "ensemble", s, short) for a in ("dream", "mcts") for s in (0, 1)]
    curves += [_curve("sb3:PPO", "none", s, [1000.0 * i for i in range(1, 40)]) for s in (0, 1)]
    paths = plots.plot_learning_curves(curves, Path(tmp_path))
    assert [p.name for p in paths] == ["learning_Tutoring-v0.png"] and paths[0].is_file()
    assert [label.replace("\n", " ") for label in drawn] == [
        "dream/ensemble, mcts/ensemble (2 seeds)",
        "sb3:PPO (2 seeds)",
    ]

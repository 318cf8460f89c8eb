"""Benchmark plots (matplotlib, Agg backend), written as PNG files.

- ``returns_<env>.png``: mean return per agent with its 95% bootstrap interval;
- ``improvement.png``: improvement over the reactive baseline with intervals;
- ``learning_<env>.png``: training return against real env steps, per learner;
- ``world_models.png``: open-loop error against horizon per backend, with the
  persistence and oracle references.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _name(row: dict[str, Any]) -> str:
    return row["agent"] if row["model"] == "none" else f"{row['agent']}/{row['model']}"


def _errors(center: list[float], intervals: list[list[float]]) -> np.ndarray:
    """``[2, N]`` distances below and above each centre, as ``errorbar`` wants them."""
    low = np.array([c - i[0] for c, i in zip(center, intervals, strict=True)])
    high = np.array([i[1] - c for c, i in zip(center, intervals, strict=True)])
    return np.maximum(np.stack([low, high]), 0.0)


def plot_returns(summary: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One bar chart per env: mean return per agent with its 95% interval."""
    plt = _pyplot()
    paths = []
    for env in dict.fromkeys(row["env"] for row in summary):
        rows = [row for row in summary if row["env"] == env]
        means = [row["mean_return"] for row in rows]
        fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(rows) + 2), 3.5))
        colors = ["tab:gray" if row["agent"] == "reactive" else "tab:blue" for row in rows]
        ax.bar(range(len(rows)), means, color=colors)
        ax.errorbar(range(len(rows)), means, yerr=_errors(means, [r["ci95"] for r in rows]),
                    fmt="none", ecolor="black", capsize=3)  # fmt: skip
        ax.set_xticks(range(len(rows)), [_name(row) for row in rows], rotation=45, ha="right")
        ax.set_ylabel("mean return (95% CI over seeds)")
        ax.set_title(env)
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"returns_{_slug(env)}.png", plt))
    return paths


def plot_improvement(summary: list[dict[str, Any]], out_dir: Path) -> Path | None:
    """Horizontal bars of improvement over reactive (%) with intervals, all envs."""
    rows = [row for row in summary if row["improvement_vs_reactive_pct"] is not None]
    if not rows:
        return None
    plt = _pyplot()
    values = [row["improvement_vs_reactive_pct"] for row in rows]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ax.barh(y, values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
    ax.errorbar(values, y, xerr=_errors(values, [r["improvement_ci95"] for r in rows]),
                fmt="none", ecolor="black", capsize=3)  # fmt: skip
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y, [f"{row['env']} {_name(row)}" for row in rows])
    ax.invert_yaxis()
    ax.set_xlabel("improvement over reactive, % (95% CI)")
    fig.tight_layout()
    return _save(fig, out_dir / "improvement.png", plt)


def plot_learning_curves(curves: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per env: each learner's training return against env steps, mean over seeds.

    Learners whose curves are identical (model learners that collected with the same
    warm-up policy and seeds) share one line and one legend entry. Where budgets differ
    tenfold or more, the step axis is logarithmic.
    """
    plt = _pyplot()
    paths = []
    for env in dict.fromkeys(c["env"] for c in curves):
        groups: dict[str, list[dict[str, Any]]] = {}
        for curve in curves:
            if curve["env"] == env and curve.get("episode_return"):
                groups.setdefault(_name(curve), []).append(curve)
        # (names, grid, [seeds, len(grid)] returns): one line per distinct curve
        lines: list[tuple[list[str], np.ndarray, np.ndarray]] = []
        for name, runs in groups.items():
            end = max(max(run["env_steps"]) for run in runs)
            grid = np.linspace(0, end, 50)
            # Each seed's curve is interpolated onto one grid of steps, then averaged.
            stacked = np.stack([_interp(grid, run) for run in runs])
            for names, other_grid, other in lines:
                if np.array_equal(other_grid, grid) and np.array_equal(
                    other, stacked, equal_nan=True
                ):
                    names.append(name)
                    break
            else:
                lines.append(([name], grid, stacked))
        if not lines:
            continue
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for names, grid, stacked in lines:
            label = textwrap.fill(f"{', '.join(names)} ({len(stacked)} seeds)", 48)
            ax.plot(grid, stacked.mean(axis=0), label=label)
            if len(stacked) > 1:
                ax.fill_between(grid, stacked.min(axis=0), stacked.max(axis=0), alpha=0.2)
        ends = [grid[-1] for _, grid, _ in lines if grid[-1] > 0]
        if ends and max(ends) >= 10 * min(ends):
            ax.set_xscale("symlog", linthresh=max(1.0, min(ends) / 10))
        ax.set_xlabel("real env steps")
        ax.set_ylabel("training episode return")
        ax.set_title(env)
        ax.legend(fontsize="x-small")
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"learning_{_slug(env)}.png", plt))
    return paths


def _interp(grid: np.ndarray, run: dict[str, Any]) -> np.ndarray:
    """A seed's training returns on ``grid``; points with a missing value are skipped."""
    pairs = [(x, y) for x, y in zip(run["env_steps"], run["episode_return"], strict=False)
             if x is not None and y is not None]  # fmt: skip
    if not pairs:
        return np.full(grid.shape, np.nan)
    xs, ys = zip(*pairs, strict=True)
    return np.interp(grid, xs, ys)


def plot_world_models(rows: list[dict[str, Any]], out_dir: Path) -> Path | None:
    """Open-loop error against horizon, one panel per env, one line per backend."""
    if not rows:
        return None
    plt = _pyplot()
    envs = list(dict.fromkeys(row["env"] for row in rows))
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.5), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        env_rows = sorted((r for r in rows if r["env"] == env), key=lambda r: r["horizon"])
        for backend in dict.fromkeys(r["model"] for r in env_rows):
            mine = [r for r in env_rows if r["model"] == backend]
            ax.plot([r["horizon"] for r in mine], [r["nmae"] for r in mine], marker="o",
                    label=backend)  # fmt: skip
        first = [r for r in env_rows if r["model"] == env_rows[0]["model"]]
        horizons = [r["horizon"] for r in first]
        ax.plot(horizons, [r["persistence_nmae"] for r in first], "k--", label="persistence")
        if all(r["oracle_nmae"] is not None for r in first):
            ax.plot(horizons, [r["oracle_nmae"] for r in first], "k:", label="oracle")
        ax.set_xlabel("horizon (steps)")
        ax.set_ylabel("nmae")
        ax.set_title(env)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, out_dir / "world_models.png", plt)


def write_plots(
    results: dict[str, Any], curves: list[dict[str, Any]], out_dir: str | Path
) -> list[Path]:
    """Every plot that the results have data for; returns the PNG paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = plot_returns(results["summary"], out)
    paths += plot_learning_curves(curves, out)
    for single in (
        plot_improvement(results["summary"], out),
        plot_world_models(results["world_models"], out),
    ):
        if single is not None:
            paths.append(single)
    return paths


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

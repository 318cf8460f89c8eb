"""The ``results.json`` contract, its atomic writer and ``summary.md``.

``results.json`` (DESIGN section 5) holds ``suite``, ``lucidgym_version``, ``machine``,
``runs`` (one row per env, agent, model and seed), ``summary`` (one row per env, agent
and model, with bootstrap intervals over seeds) and ``world_models`` (horizon errors).
The throughput suite adds ``throughput`` rows. Learning curves of learners go to
``learning_curves.json`` beside it. Every file is rewritten atomically after each
finished run, so an interrupted benchmark leaves valid files holding the runs so far.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lucidgym.benchmarks.specs import agent_of
from lucidgym.benchmarks.stats import bootstrap_ci, improvement_pct, interquartile_mean
from lucidgym.files import atomic_write_bytes, atomic_write_json

BASELINE_AGENT = "reactive"
"""The agent every other agent of the same env is compared with."""


@dataclass
class RunRecord:
    """One evaluated (env, agent, model, seed): a row of ``runs``."""

    env: str
    """Gymnasium id of the environment."""
    agent: str
    """Agent name as given to ``make_agent``."""
    model: str
    """``"oracle"``, a world-model backend name, or ``"none"``."""
    seed: int
    """Seed of training and of the agent; evaluation episodes use fresh seeds."""
    episode_returns: list[float]
    """Return of each evaluation episode."""
    env_steps: int
    """Real environment steps of training used (0 for agents that do not learn)."""
    wall_s: float
    """Wall time of the run (training and evaluation) in seconds."""
    success_rate: float | None = None
    """Fraction of successes where the env reports ``info["success"]``, else ``None``."""
    config: dict[str, Any] = field(default_factory=dict)
    """The agent's full settings (``agent.settings()``: its, its planner's and its
    model's config), as it ran."""
    curves: dict[str, list[float]] = field(default_factory=dict)
    """Training curves (``env_steps``, ``episode_return``, ...); written to
    ``learning_curves.json``, not to ``runs``."""
    train_s: float = 0.0
    """Of ``wall_s``, the seconds of training (``learn``; 0 for agents that do not learn):
    the rest is building the agent and evaluating it."""

    def to_json(self) -> dict[str, Any]:
        """The ``runs`` row (``success_rate`` only where the env reports success)."""
        row = asdict(self)
        row.pop("curves")
        if row["success_rate"] is None:
            row.pop("success_rate")
        return row


@dataclass
class WorldModelRecord:
    """Open-loop error of a world model at one horizon: a row of ``world_models``."""

    env: str
    """Gymnasium id of the environment."""
    model: str
    """World-model backend name."""
    horizon: int
    """Steps of open-loop prediction."""
    nmae: float
    """Normalized mean absolute error of the model at ``horizon`` on held-out episodes."""
    persistence_nmae: float
    """The same for predicting that nothing changes."""
    oracle_nmae: float | None
    """The same for the true simulator's mean prediction (``None`` without an oracle)."""
    wall_s: float | None = None
    """Wall time of the whole evaluation (collecting, training, scoring) in seconds, on
    its horizon-1 row; ``None`` on the others, so that the rows of a suite sum to its time."""


def machine_info(argv: list[str] | None = None) -> dict[str, Any]:
    """The machine and software versions a benchmark ran on, and its command line."""
    import gymnasium
    import torch

    from lucidgym import __version__

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "lucidgym": __version__,
        **{name: _version(name) for name in RECORDED_PACKAGES},
        "git_commit": _git_commit(),
        "command": list(sys.argv if argv is None else argv),
    }


RECORDED_PACKAGES = ("numpy", "numba", "stable-baselines3", "minari")
"""Packages whose installed versions ``machine_info`` records (``None``: not installed)."""


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The commit of the lucidgym checkout that ran (``+dirty`` with local changes), if any."""
    import subprocess

    source = Path(__file__).resolve().parents[2]
    if not (source / "pyproject.toml").is_file():
        return None  # an installed package: whatever repository holds it is not its source
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None  # an installed package, not a checkout, or no git
    return f"{commit}+dirty" if changed else commit


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summarize(runs: list[RunRecord], *, seed: int = 0) -> list[dict[str, Any]]:
    """One ``summary`` row per (env, agent, model), in order of first appearance.

    A seed counts as one value: the mean of its episode returns. ``ci95`` is the
    bootstrap interval over seeds; the improvement is against the ``reactive`` row of
    the same env (``None`` where there is none, or where its mean is zero). Where both
    rows ran the same seeds with the same number of episodes, they played the same
    evaluation episodes, and the improvement's interval is paired over seeds.
    """
    groups: dict[tuple[str, str, str], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault((run.env, run.agent, run.model), []).append(run)
    rows = []
    for (env, agent, model), group in groups.items():
        values = _seed_means(group)
        reference = next(
            (g for (e, a, _), g in groups.items() if e == env and a == BASELINE_AGENT), None
        )
        improvement, improvement_ci = (None, None)
        if reference is not None and agent != BASELINE_AGENT:
            counts = _episodes_by_seed(group)
            paired = bool(counts) and counts == _episodes_by_seed(reference)
            ours, theirs = group, reference
            if paired:  # line the seeds up
                ours, theirs = (sorted(g, key=lambda r: r.seed) for g in (group, reference))
            improvement, improvement_ci = improvement_pct(
                _seed_means(ours), _seed_means(theirs), seed=seed, paired=paired
            )
        row: dict[str, Any] = {
            "env": env,
            "agent": agent,
            "model": model,
            "mean_return": float(values.mean()),
            "ci95": list(bootstrap_ci(values, seed=seed)),
            "improvement_vs_reactive_pct": improvement,
            "improvement_ci95": None if improvement_ci is None else list(improvement_ci),
        }
        successes = [r.success_rate for r in group if r.success_rate is not None]
        if successes:
            row["success_rate"] = float(np.mean(successes))
        row["iqm_return"] = interquartile_mean(values)
        row["seeds"] = len(group)
        row["env_steps"] = max(r.env_steps for r in group)
        rows.append(row)
    _add_share_of_ceiling(rows)
    return rows


CEILING_MODELS = ("belief", "oracle")
"""The models a learned row is measured against, the first present winning: the true
simulator behind a belief filtered from observations (what a learned model can reach at
most where the env hides state), else the true simulator from the true state."""


def _add_share_of_ceiling(rows: list[dict[str, Any]]) -> None:
    """Give each learned-model row its ``share_of_ceiling`` and the ``ceiling`` model.

    ``share_of_ceiling = (learned - reactive) / (ceiling - reactive)``: the share of the
    gain over the ``reactive`` row that the same planner finds with the true simulator
    (from a belief where there is a ``belief`` row, else from the true state) that the
    learned model keeps; a variant row (``dream[20k steps]``) is measured against its
    planner's ceiling. ``None`` where either row is missing or the ceiling does not beat
    the reactive row.
    """
    index = {(r["env"], r["agent"], r["model"]): r for r in rows}
    for row in rows:
        if row["model"] in (*CEILING_MODELS, "none"):
            continue
        reactive = next(
            (r for r in rows if r["env"] == row["env"] and r["agent"] == BASELINE_AGENT), None
        )
        planner = agent_of(str(row["agent"]))  # a variant shares its planner's ceiling
        ceiling_model = next((m for m in CEILING_MODELS if (row["env"], planner, m) in index), None)
        share = None
        if reactive is not None and ceiling_model is not None:
            ceiling = index[(row["env"], planner, ceiling_model)]["mean_return"]
            gap = ceiling - reactive["mean_return"]
            if gap > 0:
                share = (row["mean_return"] - reactive["mean_return"]) / gap
        row["ceiling"] = ceiling_model
        row["share_of_ceiling"] = share


def _seed_means(group: list[RunRecord]) -> np.ndarray:
    """``[N]`` the mean episode return of each run of ``group``, in order."""
    return np.array([np.mean(r.episode_returns) for r in group])


def _episodes_by_seed(group: list[RunRecord]) -> dict[int, int]:
    """Evaluation episodes per seed (runs of one seed played the same episodes)."""
    counts: dict[int, int] = {}
    for run in group:
        if run.seed in counts:
            return {}  # a seed twice: no one-to-one pairing
        counts[run.seed] = len(run.episode_returns)
    return counts


@dataclass
class BenchResults:
    """Everything a benchmark measured so far; :meth:`write` saves it atomically."""

    suite: str
    """Suite name (``quick``, ``full``, ``throughput``, ``tiny`` or ``custom``)."""
    machine: dict[str, Any]
    """Output of :func:`machine_info`."""
    runs: list[RunRecord] = field(default_factory=list)
    """Finished runs."""
    world_models: list[WorldModelRecord] = field(default_factory=list)
    """World-model horizon errors."""
    throughput: list[dict[str, Any]] = field(default_factory=list)
    """Speed rows of the throughput suite."""

    def to_json(self) -> dict[str, Any]:
        """The ``results.json`` document."""
        from lucidgym import __version__

        payload: dict[str, Any] = {
            "suite": self.suite,
            "lucidgym_version": __version__,
            "machine": self.machine,
            "runs": [run.to_json() for run in self.runs],
            "summary": summarize(self.runs),
            "world_models": [asdict(row) for row in self.world_models],
        }
        if self.throughput:
            payload["throughput"] = self.throughput
        return payload

    def write(self, out_dir: str | Path) -> None:
        """Atomically (re)write ``results.json``, ``learning_curves.json`` and ``summary.md``."""
        out = Path(out_dir)
        payload = self.to_json()
        atomic_write_json(out / "results.json", payload, sort_keys=False)
        curves = [
            {"env": r.env, "agent": r.agent, "model": r.model, "seed": r.seed, **r.curves}
            for r in self.runs
            if r.curves.get("env_steps")
        ]
        atomic_write_json(out / "learning_curves.json", curves, sort_keys=False)
        atomic_write_bytes(out / "summary.md", summary_markdown(payload).encode("utf-8"))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _interval_text(interval: list[float] | None, digits: int = 3) -> str:
    if interval is None:
        return "-"
    return f"[{_fmt(interval[0], digits)}, {_fmt(interval[1], digits)}]"


def summary_table(summary: list[dict[str, Any]]) -> list[list[str]]:
    """The rows of the summary table (header first), as text cells."""
    table = [
        ["env", "agent", "model", "seeds", "env steps", "mean return", "95% CI", "IQM",
         "vs reactive", "95% CI", "share of ceiling", "success"]
    ]  # fmt: skip
    for row in summary:
        improvement = row["improvement_vs_reactive_pct"]
        table.append(
            [
                row["env"],
                row["agent"],
                row["model"],
                str(row.get("seeds", "")),
                f"{row['env_steps']:,}" if "env_steps" in row else "",
                _fmt(row["mean_return"]),
                _interval_text(row["ci95"]),
                _fmt(row.get("iqm_return")),
                "-" if improvement is None else f"{improvement:+.1f}%",
                _interval_text(row["improvement_ci95"]),
                _share_text(row),
                _fmt(row.get("success_rate"), 2),
            ]
        )
    return table


def _share_text(row: dict[str, Any]) -> str:
    share = row.get("share_of_ceiling")
    if share is None:
        return "-"
    return f"{share:.0%} of {row['ceiling']}"


def summary_markdown(payload: dict[str, Any]) -> str:
    """``summary.md``: the summary, world-model and throughput tables of a results document."""
    machine = payload["machine"]
    lines = [
        f"# lucidgym bench: {payload['suite']}",
        "",
        f"lucidgym {payload['lucidgym_version']}, torch {machine.get('torch')}, "
        f"gymnasium {machine.get('gymnasium')}, {machine.get('cpu')} "
        f"({machine.get('cores')} cores, {machine.get('torch_threads')} torch threads).",
        "",
        "Intervals are 95% percentile-bootstrap intervals over seeds; IQM is the",
        "interquartile mean of the per-seed mean returns.",
        "",
    ]
    if payload["summary"]:
        lines += ["## Returns", "", *_markdown(summary_table(payload["summary"])), ""]
    if payload["world_models"]:
        table = [["env", "model", "horizon", "nmae", "persistence nmae", "oracle nmae"]]
        for row in payload["world_models"]:
            table.append(
                [row["env"], row["model"], str(row["horizon"]), _fmt(row["nmae"]),
                 _fmt(row["persistence_nmae"]), _fmt(row["oracle_nmae"])]
            )  # fmt: skip
        lines += ["## World models (open-loop error)", "", *_markdown(table), ""]
    if payload.get("throughput"):
        # env rows and planner rows carry different fields: one column per field seen
        keys = list(dict.fromkeys(k for row in payload["throughput"] for k in row))
        table = [keys] + [
            [
                _fmt(row[k], 4) if isinstance(row.get(k), float) else str(row.get(k, "-"))
                for k in keys
            ]
            for row in payload["throughput"]
        ]
        lines += ["## Throughput", "", *_markdown(table), ""]
    return "\n".join(lines)


def _markdown(table: list[list[str]]) -> list[str]:
    rows = ["| " + " | ".join(cells) + " |" for cells in table]
    rows.insert(1, "|" + "|".join("---" for _ in table[0]) + "|")
    return rows

"""Shards of a suite, for plain batch schedulers (Slurm arrays), and their merge.

The jobs of a suite are its world-model evaluations, then its runs, in the suite's
order; job ``k`` belongs to shard ``k mod n`` (shards count from 0, as Slurm's array
task ids do: ``--shard $SLURM_ARRAY_TASK_ID/4``). The throughput section, if any, goes
with shard 0. A shard's ``results.json`` says which shard it holds (``shard``: index,
count, the suite's job counts and a digest of its jobs), and :func:`merge_shards` puts
every shard of one suite back together in the suite's order: the same runs and
summary as the whole suite run at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lucidgym.benchmarks.results import BenchResults, RunRecord, WorldModelRecord

Job = TypeVar("Job")

RunKey = tuple[str, str, str, int]
"""``(env, agent, model, seed)``: what names a run in results."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``)."""

    index: int
    """Which shard, from 0."""
    count: int
    """How many shards the suite is split into."""

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard must be I/N with 0 <= I < N, got {self}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (for example ``"0/4"``, the first of four)."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"shard must be I/N with 0 <= I < N (from 0), got {text!r}")
        return cls(int(index), int(count))

    def select(self, jobs: Sequence[Job]) -> list[Job]:
        """The jobs of this shard: every ``count``-th, starting at ``index``."""
        return list(jobs[self.index :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_record(shard: Shard, world_models: Sequence[Any], runs: Sequence[Any]) -> dict[str, Any]:
    """The ``shard`` entry of a shard's results, given the whole suite's jobs."""
    digest = hashlib.sha256(repr([*world_models, *runs]).encode("utf-8")).hexdigest()
    return {
        "index": shard.index,
        "count": shard.count,
        "suite_jobs": len(world_models) + len(runs),
        "world_model_jobs": len(world_models),
        "suite_digest": digest[:16],
    }


@dataclass
class ShardedResults(BenchResults):
    """Results that are one shard of a suite, or a merge of all of them."""

    shard: dict[str, Any] | None = None
    """:func:`shard_record` of the shard these results hold."""
    merged_from: list[dict[str, Any]] | None = None
    """Per merged shard: its folder, ``shard`` (``"I/N"``) and ``machine``."""

    def to_json(self) -> dict[str, Any]:
        """The ``results.json`` document, with ``shard`` or ``merged_from``."""
        payload = super().to_json()
        if self.shard is not None:
            payload["shard"] = self.shard
        if self.merged_from is not None:
            payload["merged_from"] = self.merged_from
        return payload


CONSISTENT = ("suite", "lucidgym_version")
"""Top-level fields every shard of one merge must share."""

SHARD_CONSISTENT = ("count", "suite_jobs", "world_model_jobs", "suite_digest")
"""Fields of ``shard`` every shard of one merge must share."""


def merge_shards(folders: Sequence[str | Path]) -> ShardedResults:
    """Every shard of one suite, from their folders, in the suite's order.

    The merged ``machine`` is shard 0's; ``merged_from`` keeps every shard's.

    Raises:
        FileNotFoundError: a folder without ``results.json``.
        ValueError: a file that is not a shard's results; shards of different suites
            (or suite settings), lucidgym versions or shard counts; a shard given twice
            or missing; an unfinished shard; a run in two shards.
    """
    docs = [(Path(f), _read_shard(Path(f))) for f in folders]
    if not docs:
        raise ValueError("nothing to merge: give the folders of a suite's shards")
    first_folder, first = docs[0]
    by_index: dict[int, tuple[Path, dict[str, Any]]] = {}
    for folder, doc in docs:
        for field in CONSISTENT:
            _same(field, first.get(field), doc.get(field), first_folder, folder)
        for field in SHARD_CONSISTENT:
            expected, got = first["shard"].get(field), doc["shard"].get(field)
            _same(f"shard {field}", expected, got, first_folder, folder)
        index = doc["shard"]["index"]
        if index in by_index:
            raise ValueError(
                f"shard {index}/{doc['shard']['count']} given twice: {by_index[index][0]} and "
                f"{folder}"
            )
        by_index[index] = (folder, doc)
    count = first["shard"]["count"]
    missing = [f"{i}/{count}" for i in range(count) if i not in by_index]
    if missing:
        raise ValueError(f"shard(s) {', '.join(missing)} missing: merge needs all {count}")
    placed: dict[int, tuple[list[RunRecord], list[WorldModelRecord]]] = {}
    seen: dict[RunKey, Path] = {}
    throughput: list[dict[str, Any]] = []
    for index in range(count):
        folder, doc = by_index[index]
        for position, records in _jobs_of(doc, folder).items():
            for run in records[0]:
                key = (run.env, run.agent, run.model, run.seed)
                if key in seen:
                    raise ValueError(f"run {key} is in two shards: {seen[key]} and {folder}")
                seen[key] = folder
            placed[position] = records
        throughput += doc.get("throughput") or []
    order = sorted(placed)
    return ShardedResults(
        suite=first["suite"],
        machine=by_index[0][1]["machine"],
        runs=[run for p in order for run in placed[p][0]],
        world_models=[row for p in order for row in placed[p][1]],
        throughput=throughput,
        merged_from=[
            {"folder": str(folder), "shard": f"{i}/{count}", "machine": doc["machine"]}
            for i, (folder, doc) in sorted(by_index.items())
        ],
    )  # fmt: skip


def _read_shard(folder: Path) -> dict[str, Any]:
    """The results document in ``folder``, with its learning curves in its runs."""
    path = folder / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no results.json (is it a bench --out folder?)")
    try:
        doc = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("shard"), dict):
        raise ValueError(f"{path}: not a shard's results (run bench with --shard I/N)")
    curves_path = folder / "learning_curves.json"
    curves = json.loads(curves_path.read_text()) if curves_path.is_file() else []
    doc["curves"] = {(c["env"], c["agent"], c["model"], c["seed"]): c for c in curves}
    return doc


def _same(what: str, expected: Any, got: Any, first: Path, folder: Path) -> None:
    if expected != got:
        raise ValueError(
            f"shards of different runs: {what} is {expected!r} in {first} but {got!r} in {folder}"
        )


def _jobs_of(
    doc: dict[str, Any], folder: Path
) -> dict[int, tuple[list[RunRecord], list[WorldModelRecord]]]:
    """The shard's records by the suite position of the job that made them.

    A shard's results keep its jobs' order, and each world-model evaluation writes
    one row per horizon from 1, so records map back to jobs once the shard finished.
    """
    shard = doc["shard"]
    positions = range(shard["index"], shard["suite_jobs"], shard["count"])
    model_jobs = [p for p in positions if p < shard["world_model_jobs"]]
    run_jobs = [p for p in positions if p >= shard["world_model_jobs"]]
    groups: list[list[WorldModelRecord]] = []
    for row in doc["world_models"]:
        if row["horizon"] == 1 or not groups:
            groups.append([])
        groups[-1].append(WorldModelRecord(**row))
    runs = doc["runs"]
    if len(runs) != len(run_jobs) or len(groups) != len(model_jobs):
        raise ValueError(
            f"{folder}: shard {shard['index']}/{shard['count']} is unfinished "
            f"({len(runs)} of {len(run_jobs)} runs, {len(groups)} of {len(model_jobs)} "
            "world-model evaluations); run it again"
        )
    jobs: dict[int, tuple[list[RunRecord], list[WorldModelRecord]]] = {}
    for position, group in zip(model_jobs, groups, strict=True):
        jobs[position] = ([], group)
    for position, row in zip(run_jobs, runs, strict=True):
        key = (row["env"], row["agent"], row["model"], row["seed"])
        curve = doc["curves"].get(key, {})
        curves = {k: v for k, v in curve.items() if k not in ("env", "agent", "model", "seed")}
        jobs[position] = ([RunRecord(**row, curves=curves)], [])
    return jobs

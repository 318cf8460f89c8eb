"""World-model evaluations of a suite: train a backend on random play, score it open-loop."""

from __future__ import annotations

import time

from lucidgym.benchmarks.results import WorldModelRecord
from lucidgym.benchmarks.specs import EVAL_SEED_OFFSET, WorldModelSpec, seed_everything


def run_world_model(spec: WorldModelSpec, device: str = "cpu") -> list[WorldModelRecord]:
    """Train ``spec.backend`` on ``spec.env`` and record its error at horizons ``1..H``."""
    from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
    from lucidgym.world_models.evaluation import collect_eval_data, evaluate_world_model
    from lucidgym.world_models.registry import make_world_model
    from lucidgym.world_models.trainer import Trainer, TrainerConfig

    start = time.perf_counter()
    seed_everything(spec.seed)
    env = make_collection_env(spec.env, num_envs=8)
    buffer = collect_to_buffer(env, spec.train_episodes, "random", seed=spec.seed)
    env.close()
    model = make_world_model(
        spec.backend, buffer.observation_space, buffer.action_space, **spec.config
    )
    config = TrainerConfig(steps=spec.train_steps, device=device, progress=False, seed=spec.seed)
    Trainer(model, config).fit(buffer)
    model.to("cpu")
    data = collect_eval_data(spec.env, spec.eval_episodes, seed=EVAL_SEED_OFFSET + spec.seed)
    errors = evaluate_world_model(
        model, data, horizon=spec.horizon, max_windows=spec.eval_windows, seed=spec.seed
    )
    oracle = errors.oracle
    return [
        WorldModelRecord(
            env=spec.env,
            model=spec.backend,
            horizon=h + 1,
            nmae=float(errors.model[h]),
            persistence_nmae=float(errors.persistence[h]),
            oracle_nmae=None if oracle is None else float(oracle[h]),
            wall_s=time.perf_counter() - start if h == 0 else None,
        )
        for h in range(errors.horizon)
    ]

"""The world-model core: one protocol, several backends, batched torch tensors."""

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.backends.ensemble import (
    EnsembleConfig,
    EnsembleState,
    EnsembleWorldModel,
)
from lucidgym.world_models.backends.lstm import LSTMConfig, LSTMState, LSTMWorldModel
from lucidgym.world_models.backends.mlp import MLPConfig, MLPState, MLPWorldModel
from lucidgym.world_models.backends.rssm import RSSMConfig, RSSMState, RSSMWorldModel
from lucidgym.world_models.backends.transformer import (
    TransformerConfig,
    TransformerState,
    TransformerWorldModel,
)
from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer
from lucidgym.world_models.checkpoint import load_world_model, save_world_model
from lucidgym.world_models.collect import collect_episodes, collect_to_buffer
from lucidgym.world_models.evaluation import (
    EvalData,
    HorizonErrors,
    collect_eval_data,
    evaluate_world_model,
)
from lucidgym.world_models.model_env import ModelEnv, ModelVectorEnv
from lucidgym.world_models.protocol import Prediction, Rollout, SequenceBatch, WorldModel
from lucidgym.world_models.registry import (
    CONFIGS,
    PRESETS,
    WORLD_MODELS,
    config_from_dict,
    config_to_dict,
    make_world_model,
    stochastic_backends,
    stochastic_dream_config,
)
from lucidgym.world_models.service import (
    AsyncWorldModel,
    DreamRollout,
    ModelInput,
    ModelOutput,
    PredictionTarget,
    TransitionBackend,
    WorldModelConfig,
    WorldModelService,
)
from lucidgym.world_models.trainer import (
    Trainer,
    TrainerConfig,
    TrainingHistory,
    resolve_device,
    train_step,
)

__all__ = [
    "CONFIGS",
    "PRESETS",
    "WORLD_MODELS",
    "EnsembleConfig",
    "EnsembleState",
    "EnsembleWorldModel",
    "LSTMConfig",
    "LSTMState",
    "LSTMWorldModel",
    "MLPConfig",
    "MLPState",
    "MLPWorldModel",
    "Prediction",
    "RSSMConfig",
    "RSSMState",
    "RSSMWorldModel",
    "Rollout",
    "SequenceBatch",
    "TransformerConfig",
    "TransformerState",
    "TransformerWorldModel",
    "WorldModel",
    "WorldModelBase",
    "config_from_dict",
    "config_to_dict",
    "make_world_model",
    "stochastic_backends",
    "stochastic_dream_config",
]
__all__ += [
    "AsyncWorldModel",
    "DreamRollout",
    "Episode",
    "EvalData",
    "HorizonErrors",
    "ModelEnv",
    "ModelInput",
    "ModelOutput",
    "ModelVectorEnv",
    "PredictionTarget",
    "SequenceReplayBuffer",
    "Trainer",
    "TrainerConfig",
    "TrainingHistory",
    "TransitionBackend",
    "WorldModelConfig",
    "WorldModelService",
    "collect_episodes",
    "collect_eval_data",
    "collect_to_buffer",
    "evaluate_world_model",
    "load_world_model",
    "resolve_device",
    "save_world_model",
    "train_step",
]

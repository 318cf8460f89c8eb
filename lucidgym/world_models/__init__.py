"""The world-model core: one protocol, several backends, batched torch tensors."""

from lucidgym.world_models.base import Prediction, Rollout, SequenceBatch, WorldModel
from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer
from lucidgym.world_models.checkpoint import load_world_model, save_world_model
from lucidgym.world_models.collect import collect_episodes, collect_to_buffer
from lucidgym.world_models.ensemble import EnsembleConfig, EnsembleState, EnsembleWorldModel
from lucidgym.world_models.evaluation import (
    EvalData,
    HorizonErrors,
    collect_eval_data,
    evaluate_world_model,
)
from lucidgym.world_models.lstm import LSTMConfig, LSTMState, LSTMWorldModel
from lucidgym.world_models.mlp import MLPConfig, MLPState, MLPWorldModel
from lucidgym.world_models.model_env import ModelEnv, ModelVectorEnv
from lucidgym.world_models.networks import WorldModelBase
from lucidgym.world_models.registry import (
    CONFIGS,
    PRESETS,
    WORLD_MODELS,
    config_from_dict,
    config_to_dict,
    make_world_model,
)
from lucidgym.world_models.rssm import RSSMConfig, RSSMState, RSSMWorldModel
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
from lucidgym.world_models.trainer import Trainer, TrainerConfig, TrainingHistory
from lucidgym.world_models.transformer import (
    TransformerConfig,
    TransformerState,
    TransformerWorldModel,
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
    "save_world_model",
]

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer
from lucidgym.world_models.collect import collect_episodes, collect_to_buffer

OBS = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
ACT = gym.spaces.Discrete(3)


def _episode(start: float, length: int, terminal: bool = False) -> Episode:
    obs = np.stack([np.arange(length + 1) + start, np.full(length + 1, start)], 1)
    term = np.zeros(length, dtype=bool)
    term[-1] = terminal
    return Episode(obs.astype(np.float32), np.arange(length) % 3, np.ones(length), term)


class CounterEnv(gym.Env):
    """obs = [step, episode seed]; episodes of ``length`` steps end terminated."""

    observation_space = OBS
    action_space = ACT

    def __init__(self, length: int = 3) -> None:
        self.length = length

    def reset(self, *, seed: int | None = None, options: Any = None):
        super().reset(seed=seed)
        self.t = 0
        self.tag = float(self.np_random.integers(1000))
        return np.array([0.0, self.tag], np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, self.tag], np.float32)
        return obs, float(action), self.t >= self.length, False, {}


def test_add_episode_and_sample_shapes():
    buf = SequenceReplayBuffer(OBS, ACT, capacity=100, seed=0)
    buf.add_episode(_episode(0, 5, terminal=True))
    buf.add_episode(_episode(100, 7))
    assert len(buf) == 6 + 8
    assert buf.num_transitions == 12
    batch = buf.sample(4, 5)
    assert batch.obs.shape == (4, 5, 2) and batch.action.shape == (4, 5)
    assert batch.reward.shape == batch.terminal.shape == batch.is_first.shape == (4, 5)
    assert batch.valid.dtype.is_floating_point is False


def test_windows_follow_the_row_convention():
    buf = SequenceReplayBuffer(OBS, ACT, capacity=1000, seed=1)
    for i in range(10):
        buf.add_episode(_episode(100 * i, 3 + i % 4, terminal=i % 2 == 0))
    batch = buf.sample(64, 6)
    obs, valid, first = batch.obs.numpy(), batch.valid.numpy(), batch.is_first.numpy()
    for b in range(64):
        for t in range(5):
            if valid[b, t]:
                # A valid row is followed by the next step of the same episode.
                assert obs[b, t + 1, 1] == obs[b, t, 1]
                assert obs[b, t + 1, 0] == obs[b, t, 0] + 1
                assert not first[b, t + 1]
            else:
                # After an episode's last observation comes the start of the next one.
                assert first[b, t + 1] and obs[b, t + 1, 0] == 100 * (obs[b, t + 1, 0] // 100)


def test_sampling_is_seeded():
    def make(seed):
        buf = SequenceReplayBuffer(OBS, ACT, capacity=1000, seed=seed)
        for i in range(5):
            buf.add_episode(_episode(10 * i, 6))
        return buf.sample(8, 4)

    assert all(np.array_equal(a, b) for a, b in zip(make(3), make(3), strict=True))
    assert not np.array_equal(make(3).obs, make(4).obs)


def test_ring_overwrites_the_oldest_rows():
    buf = SequenceReplayBuffer(OBS, ACT, capacity=10, seed=0)
    for i in range(4):
        buf.add_episode(_episode(100 * i, 3))
    assert len(buf) == 10
    episodes = buf.episodes()
    # Rows of episodes 1..3 survive (12 rows, 10 kept): the first one partly.
    assert [int(ep.obs[0, 1]) for ep in episodes] == [100, 200, 300]
    assert len(episodes[0]) == 1 and len(episodes[-1]) == 3
    batch = buf.sample(32, 4)
    assert batch.obs[..., 1].min() >= 100


def test_steps_match_whole_episodes():
    ep = _episode(0, 4, terminal=True)
    a = SequenceReplayBuffer(OBS, ACT, capacity=20)
    a.add_episode(ep)
    b = SequenceReplayBuffer(OBS, ACT, capacity=20)
    for t in range(4):
        b.add_step(ep.obs[t], ep.action[t], ep.reward[t], ep.terminal[t], is_first=t == 0)
    b.end_episode(ep.obs[4])
    for name in ("obs", "action", "reward", "terminal", "is_first", "valid"):
        assert np.array_equal(getattr(a, name)[:5], getattr(b, name)[:5]), name
    with pytest.raises(ValueError, match="no episode is open"):
        b.end_episode(ep.obs[4])
    with pytest.raises(ValueError, match="is_first"):
        b.add_step(ep.obs[0], 0, 0.0, False, is_first=False)


def test_bad_input_is_refused():
    buf = SequenceReplayBuffer(OBS, ACT, capacity=20)
    with pytest.raises(ValueError, match="shape"):
        buf.add_episode(Episode(np.zeros((4, 3)), np.zeros(3), np.zeros(3), np.zeros(3, bool)))
    bad = _episode(0, 3)
    bad.obs[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        buf.add_episode(bad)
    with pytest.raises(ValueError, match="observations"):
        buf.add_episode(Episode(np.zeros((3, 2)), np.zeros(3), np.zeros(3), np.zeros(3, bool)))
    buf.add_episode(_episode(0, 2))
    with pytest.raises(ValueError, match="seq_len"):
        buf.sample(2, 10)


def test_split_is_by_whole_episode():
    buf = SequenceReplayBuffer(OBS, ACT, capacity=1000)
    for i in range(20):
        buf.add_episode(_episode(100 * i, 4))
    train, held = buf.split(0.25, seed=0)
    train_tags = {int(ep.obs[0, 1]) for ep in train.episodes()}
    held_tags = {int(ep.obs[0, 1]) for ep in held.episodes()}
    assert len(held_tags) == 5 and len(train_tags) == 15
    assert not train_tags & held_tags


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_collection_drops_the_autoreset_step(mode):
    env = SyncVectorEnv([lambda: CounterEnv(3) for _ in range(3)], autoreset_mode=mode)
    episodes = collect_episodes(env, 7, "random", seed=0)
    assert len(episodes) == 7
    for ep in episodes:
        assert ep.obs[:, 0].tolist() == [0, 1, 2, 3]
        assert len(set(ep.obs[:, 1].tolist())) == 1
        assert ep.terminal.tolist() == [False, False, True]
        assert np.array_equal(ep.reward, ep.action.astype(np.float32))


class CoinLengthEnv(CounterEnv):
    """Episodes last 1 or 10 steps, decided by a coin at reset."""

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed)
        self.length = 1 if self.np_random.random() < 0.5 else 10
        return obs, info


def test_vector_collection_does_not_favour_short_episodes():
    env = SyncVectorEnv([CoinLengthEnv for _ in range(16)])
    lengths = [len(ep) for ep in collect_episodes(env, 32, "random", seed=0)]
    assert len(lengths) == 32
    # Keeping the first 32 episodes to end would keep almost only 1-step ones.
    assert 8 <= lengths.count(10) <= 24


def test_single_env_collection_with_a_policy():
    buf = collect_to_buffer(CounterEnv(4), 3, policy=lambda obs: 2, seed=1)
    assert len(buf) == 15 and buf.num_transitions == 12
    assert set(buf.action[buf.valid].tolist()) == {2}

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


BOX = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def _poisoned(field: str, value: float, episode: int = 2, step: int = 1) -> list[Episode]:
    """Four episodes (``Box`` actions where ``field`` is the action), one value replaced."""
    episodes = [_episode(100 * i, 4) for i in range(4)]
    if field == "action":
        episodes = [ep._replace(action=np.zeros((4, 2), np.float32)) for ep in episodes]
    ep = episodes[episode]
    arrays = {"obs": ep.obs.copy(), "action": ep.action.copy(), "reward": ep.reward.copy()}
    arrays[field][(step, 1) if field == "action" else step] = value
    episodes[episode] = ep._replace(**arrays)
    return episodes


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("obs", 1e30, r"obs\[0\] is 1e\+30 \(beyond 1e\+06 in magnitude: implausible"),
        ("obs", np.inf, r"obs\[0\] is inf \(NaN and infinity are refused\)"),
        ("obs", -np.inf, r"obs\[0\] is -inf"),
        ("reward", np.inf, "reward is inf"),
        ("reward", np.nan, "reward is NaN"),
        ("reward", -1e30, r"reward is -1e\+30 \(beyond 1e\+06"),
        ("action", np.inf, r"action\[1\] is inf"),
        ("action", 1e30, r"action\[1\] is 1e\+30"),
    ],
)
def test_non_finite_and_implausible_values_are_refused_naming_episode_and_step(field, value, shown):
    act = BOX if field == "action" else ACT
    episodes = _poisoned(field, value)
    with pytest.raises(ValueError, match=rf"^episode 2, step 1: {shown}"):
        SequenceReplayBuffer.from_episodes(episodes, OBS, act)
    buf = SequenceReplayBuffer(OBS, act, capacity=100)
    buf.add_episode(episodes[0])
    with pytest.raises(ValueError, match=rf"SequenceReplayBuffer: episode 1, step 1: {shown}"):
        buf.add_episode(episodes[2])
    assert len(buf) == 5  # nothing of the refused episode was stored
    ep = episodes[2]
    buf.add_step(ep.obs[0], ep.action[0], ep.reward[0], False, is_first=True)
    with pytest.raises(ValueError, match=rf"SequenceReplayBuffer: episode 1, step 1: {shown}"):
        buf.add_step(ep.obs[1], ep.action[1], ep.reward[1], False, is_first=False)


def test_a_non_finite_final_observation_is_refused():
    buf = SequenceReplayBuffer(OBS, ACT, capacity=20)
    buf.add_step(np.zeros(2), 0, 0.0, False, is_first=True)
    buf.add_step(np.zeros(2), 1, 0.0, False, is_first=False)
    with pytest.raises(ValueError, match=r"episode 0, step 2: obs\[1\] is inf"):
        buf.end_episode(np.array([0.0, np.inf]))


@pytest.mark.parametrize(
    ("action", "shown"),
    [
        (99, r"action 99 is outside the action space Discrete\(3\) \(valid: 0 to 2\)"),
        (-3, "action -3 is outside"),
        (2.7, r"action 2\.7 is not a whole number"),
        (np.nan, "action NaN is not a whole number"),
    ],
)
def test_invalid_discrete_actions_are_refused_naming_episode_and_step(action, shown):
    episodes = [_episode(100 * i, 4) for i in range(3)]
    bad = episodes[1].action.astype(np.float64)
    bad[3] = action
    episodes[1] = episodes[1]._replace(action=bad)
    with pytest.raises(ValueError, match=rf"^episode 1, step 3: {shown}"):
        SequenceReplayBuffer.from_episodes(episodes, OBS, ACT)
    buf = SequenceReplayBuffer(OBS, ACT, capacity=20)
    with pytest.raises(ValueError, match=rf"episode 0, step 0: {shown}"):
        buf.add_step(np.zeros(2), action, 0.0, False, is_first=True)


def test_discrete_actions_are_checked_against_the_space_start():
    space = gym.spaces.Discrete(3, start=5)
    ok = Episode(np.zeros((3, 2)), np.array([5, 7]), np.zeros(2), np.zeros(2, bool))
    buf = SequenceReplayBuffer.from_episodes([ok], OBS, space)
    assert buf.episodes()[0].action.tolist() == [5, 7]
    with pytest.raises(ValueError, match=r"step 1: action 4 is outside .*\(valid: 5 to 7\)"):
        buf.add_episode(ok._replace(action=np.array([5, 4])))
    # Whole numbers stored as floats are actions like any other.
    buf.add_episode(ok._replace(action=np.array([6.0, 5.0])))
    assert buf.episodes()[-1].action.tolist() == [6, 5]


def test_terminal_flags_must_be_true_or_false():
    ep = _episode(0, 3)
    buf = SequenceReplayBuffer(OBS, ACT, capacity=20)
    with pytest.raises(ValueError, match="episode 0, step 2: terminal is nan, not true or false"):
        buf.add_episode(ep._replace(terminal=np.array([0.0, 0.0, np.nan])))
    buf.add_episode(ep._replace(terminal=np.array([0.0, 0.0, 1.0])))
    assert buf.terminal[:4].tolist() == [0, 0, 1, 0]


def test_values_up_to_the_limit_or_the_space_bounds_are_kept():
    ep = _episode(0, 3)._replace(obs=np.full((4, 2), -1e6, np.float32))
    buf = SequenceReplayBuffer(OBS, ACT, capacity=20)
    buf.add_episode(ep)
    assert buf.obs[0, 0] == -1e6
    wide = gym.spaces.Box(0.0, 1e9, (2,), np.float64)
    big = ep._replace(obs=np.full((4, 2), 5e8))
    assert SequenceReplayBuffer.from_episodes([big], wide, ACT).obs[0, 0] == 5e8
    with pytest.raises(ValueError, match=r"obs\[0\] is 5e\+08 \(beyond 1e\+06"):
        SequenceReplayBuffer.from_episodes([big], OBS, ACT)
    # Bounds as large as float32's maximum stand for "unbounded".
    top = np.finfo(np.float32).max
    unbounded = gym.spaces.Box(-top, top, (2,), np.float32)
    with pytest.raises(ValueError, match="implausible"):
        SequenceReplayBuffer.from_episodes([ep._replace(obs=np.full((4, 2), 1e30))], unbounded, ACT)


def test_wrong_lengths_are_named():
    ep = _episode(0, 3)
    buf = SequenceReplayBuffer(OBS, ACT, capacity=20)
    with pytest.raises(ValueError, match=r"episode 0: action has shape \(2,\), expected \(3,\)"):
        buf.add_episode(ep._replace(action=np.zeros(2, np.int64)))
    with pytest.raises(ValueError, match=r"episode 0: terminal has shape \(4,\), expected \(3,\)"):
        buf.add_episode(ep._replace(terminal=np.zeros(4, bool)))


def test_episode_replace_and_len():
    ep = _episode(0, 5)
    doubled = ep._replace(reward=ep.reward * 2)
    assert isinstance(doubled, Episode) and len(doubled) == 5
    assert np.array_equal(doubled.reward, 2 * ep.reward) and doubled.obs is ep.obs
    assert Episode._make(list(ep)).terminal is ep.terminal
    with pytest.raises(TypeError, match="Episode takes 4 fields"):
        Episode._make([ep.obs])
    with pytest.raises(ValueError, match="unexpected field"):
        ep._replace(nope=1)

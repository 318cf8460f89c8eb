"""The toy agents of the benchmark tests, for the commands that run agents."""

from tests.benchmarks.conftest import TOY_AGENTS, make_toy_agent, toy_agents

__all__ = ["TOY_AGENTS", "make_toy_agent", "toy_agents"]

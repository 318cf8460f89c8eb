"""Planning agents: a planner paired with the true simulator or a learned world model."""

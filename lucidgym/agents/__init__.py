"""Agents and planners; planners see models only through :class:`lucidgym.types.Dynamics`."""

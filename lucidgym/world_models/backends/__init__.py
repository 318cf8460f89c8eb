"""World-model backends, one file each; :mod:`lucidgym.world_models.registry` names them."""

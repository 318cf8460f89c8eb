"""The world-model core: one protocol, several backends, batched torch tensors."""

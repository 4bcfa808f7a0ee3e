"""The synth-time compliance gate and its single acknowledgment registry."""

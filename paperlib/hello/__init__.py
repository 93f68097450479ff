"""HeLlO (Heavy Labels Out): label-light dataset distillation with a CLIP + low-rank label projector.

Narrated in notebooks/hello.py.
"""

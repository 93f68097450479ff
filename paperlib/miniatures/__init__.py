"""The miniature benchmarks chapter: the data kit's domains and the zoo's models, measured.

Narrated in notebooks/miniatures.py.
"""
from .experiment import binomial_bar, ddpm_quality, domain_accuracies, guidance_sweep, probe_accuracies
from .params import SCHEMA

__all__ = ["SCHEMA", "binomial_bar", "domain_accuracies", "probe_accuracies", "ddpm_quality", "guidance_sweep"]

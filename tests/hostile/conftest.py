"""Hypothesis profiles for the fuzzers: bounded everywhere, derandomized in CI.

``ci`` (the default, so the README's plain ``pytest`` is what CI runs) replays the same
examples on every run, so a failure is reproducible and never flaky;
``HYPOTHESIS_PROFILE=dev`` explores new examples each run. Both bound the examples and
switch off the per-example deadline, which shared CI machines would trip on without a bug.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=150, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(  # a long hunt before a release: HYPOTHESIS_PROFILE=deep
    "deep", max_examples=3000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis profiles.  The default one (also used under CI) replays the same
# examples on every run: the fuzz test's two families of 80 cells each take
# about a minute; ``deep`` (``--hypothesis-profile=deep``) draws new ones,
# 2000 per family.
from hypothesis import HealthCheck, settings

_fixed = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    max_examples=80,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("default", **_fixed)
settings.register_profile("ci", **_fixed)
settings.register_profile(
    "deep", deadline=None, print_blob=True, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)

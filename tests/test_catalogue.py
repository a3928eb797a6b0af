"""Every catalogue cell, variants included, proved and checked as `python -m derive verify` does."""

import pytest

from derive import CATALOGUE, verify
from derive.build import GENERATED
from derive.catalogue import VARIANTS


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_is_proved_and_its_module_checked(name):
    report = verify(CATALOGUE[name])
    assert report.holds, str(report)
    assert len(report.rows) == 5


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_catalogue_cell_has_its_committed_module(name):
    assert (GENERATED / f"{name}.py").is_file()
    from derive.codegen.modules import generated

    module = generated(name)
    assert module.__name__ == f"derive.generated.{name}"
    assert module.PARAMETERS == tuple(p.name for p in CATALOGUE[name].parameters)
    assert module.STATES == CATALOGUE[name].states

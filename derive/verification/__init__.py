"""Every way the project checks itself, independent of the rule table that derives.

``explicit``         evaluates a cell's equations, one step, as written;
``reference_bptt``   unrolls that evaluation over time and backpropagates through it;
``proof``            compares the derivation with ``sympy.diff`` of each equation's entries,
                     chained through the unrolled cell;
``numeric``          checks a generated module against the derivation and finite differences;
``report``           runs the claims for a cell and tabulates them (``python -m derive verify``).
"""

from .report import CLAIMS, Report, check, verify

__all__ = ["CLAIMS", "Report", "check", "verify"]

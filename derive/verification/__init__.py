"""Every way the project checks itself, independent of the rule table that derives.

``explicit``         evaluates a cell's equations, one step, as written;
``reference_bptt``   unrolls that evaluation over time and backpropagates through it;
``proof``            compares the derivation with ``sympy.diff`` of each equation's entries,
                     chained through the unrolled cell;
``numeric``          checks a generated module against the derivation and finite differences;
``report``           runs the claims for a cell and tabulates them (``python -m derive verify``).

The first four sit below the code generator, which checks a module it makes with
``numeric``; ``report`` sits above it, since it checks the generated modules.  So
importing this package imports none of them.
"""

"""Printers: the only code that turns expressions into text (SymPy printer subclasses)."""

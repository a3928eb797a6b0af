"""The explainer site: page contexts (``pages``) and the figures (``figures``), laid out by
the page templates in the top-level ``templates/pages/`` and rendered by ``python -m derive docs``."""

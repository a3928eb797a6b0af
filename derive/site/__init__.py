"""The explainer site: page contexts (``pages``), the figures (``figures``) and the page
templates under ``templates/pages/`` beside them, rendered by ``python -m derive docs``."""

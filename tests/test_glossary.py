"""The glossary's terms and the links from each page's first use of a term (derive/site/glossary.py)."""

from __future__ import annotations

from derive.site.glossary import link, terms

GLOSSARY = """# Glossary

## Output gate { #output-gate }

The gate.

## Output { #output }
*Also:* outputs

What is shown.

## Constant error carousel { #cec }

A path.
"""


def test_terms_are_read_with_their_other_forms():
    found = terms(GLOSSARY)
    assert [t.anchor for t in found] == ["output-gate", "output", "cec"]
    assert found[1].forms == ("outputs", "Output")


def test_only_the_first_use_in_prose_is_linked_and_the_longer_term_first():
    page = (
        "# The output gate\n\n"
        "See `output` and \\(\\mathbf{o}\\), then [output](x.md).\n\n"
        "The output gate scales the output. Another output gate, another output.\n\n"
        "A constant error\ncarousel, and another constant error carousel.\n"
    )
    out = link(page, terms(GLOSSARY))
    assert out.count("](glossary.md#output-gate)") == 1
    assert out.count("](glossary.md#output)") == 1
    assert "The [output gate](glossary.md#output-gate) scales the [output](glossary.md#output)." in out
    assert "# The output gate\n" in out and "`output`" in out and "[output](x.md)" in out
    assert "[constant error\ncarousel](glossary.md#cec), and another constant error carousel" in out


def test_html_and_figures_are_left_alone():
    figure = '<figure class="d"><figcaption>the output</figcaption></figure>'
    page = figure + '\n\n<img alt="output">\n\nThe output.\n'
    out = link(page, terms(GLOSSARY))
    assert out.startswith(figure + '\n\n<img alt="output">')
    assert out.endswith("The [output](glossary.md#output).\n")

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


CHINESE = """# 术语解释

## 输出门 { #output-gate }

门。

## 门 { #gate }
*又称：* 各个门

向量。

## 时间反向传播 { #bptt }
*又称：* BPTT、时间上的反向传播

链式法则。
"""


def test_a_chinese_glossary_gives_its_own_forms_and_its_terms_are_found_between_chinese_words():
    found = terms(CHINESE)
    assert [t.anchor for t in found] == ["output-gate", "gate", "bptt"]
    assert found[2].forms == ("时间上的反向传播", "时间反向传播", "BPTT")
    out = link("LSTM 的输出门用时间反向传播训练；BPTT 之后，输出门。\n", found)
    linked = "LSTM 的[输出门](glossary.md#output-gate)用[时间反向传播](glossary.md#bptt)训练"
    assert out == linked + "；BPTT 之后，输出门。\n"
    # a Latin term is still a whole word: not inside a longer one
    assert link("BPTTX 与 BPTT。\n", found) == "BPTTX 与 [BPTT](glossary.md#bptt)。\n"


def test_a_single_chinese_character_is_sought_only_in_its_longer_forms():
    """门 alone would be found inside 门控循环单元; its other form 各个门 is still linked."""
    found = terms(CHINESE)
    assert link("门控循环单元的门。\n", found) == "门控循环单元的门。\n"
    assert link("门控循环单元的各个门。\n", found) == "门控循环单元的[各个门](glossary.md#gate)。\n"

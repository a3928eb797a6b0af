"""The code backends behind one seam: the registry, a module in each backend, and the
command line's --backend."""

import pytest

from derive import CATALOGUE, cli, generate, module_source, naming
from derive.backends import BACKENDS, UnknownBackend, find
from derive.backends.printer import StatementPrinter
from derive.codegen import ir
from derive.codegen.fused import OWN
from derive.render import TEMPLATES


def test_the_registry_names_each_backend_and_refuses_another_listing_them():
    assert list(BACKENDS) == ["numpy", "javascript", "torch"]
    assert find("numpy") is BACKENDS["numpy"]
    with pytest.raises(
        UnknownBackend, match=r"unknown backend 'jax'; the backends are numpy, javascript, torch"
    ):
        find("jax")


@pytest.mark.parametrize("name", list(BACKENDS))
def test_each_backend_meets_the_contract(name):
    backend = BACKENDS[name]
    assert backend.name == name
    assert (TEMPLATES / backend.template).is_file()
    assert backend.template.startswith("code/") and backend.template.endswith(backend.suffix + ".j2")
    assert issubclass(backend.printer, StatementPrinter)
    assert callable(backend.context)
    source = module_source(CATALOGUE["gru"], backend=name)
    assert backend.command in source and "derive/catalogue/gru.toml" in source


def test_the_frames_own_names_are_refused_as_names_of_a_cell():
    """A cell's names are locals of the generated functions: the names the frame and the
    fused lowering bind for themselves start with _, which no cell's name may."""
    for name in OWN:
        assert name.startswith(naming.OWN) and naming.refusal(name) is not None, name
    for backend in BACKENDS.values():
        source = module_source(CATALOGUE["slstm"], backend=backend.name)
        assert "_n" in source and "_t" in source, backend.name  # the sizes and step are the frame's


def test_the_numpy_backend_is_the_default_and_the_committed_modules():
    assert module_source(CATALOGUE["rnn"]) == module_source(CATALOGUE["rnn"], backend="numpy")
    module = generate(CATALOGUE["rnn"], backend="numpy")
    assert module.STATES == ("s",)


def test_javascript_is_printed_but_not_loaded():
    source = module_source(CATALOGUE["rnn"], backend="javascript")
    assert source.startswith("// Vanilla RNN") and "function backward(cache, d_outputs)" in source
    # The literal lowering, whatever is asked: JavaScript prints no fused one.
    assert module_source(CATALOGUE["rnn"], literal=True, backend="javascript") == source
    with pytest.raises(ValueError, match=r"writes JavaScript, which Python cannot load; module_source"):
        generate(CATALOGUE["rnn"], backend="javascript")
    with pytest.raises(ValueError, match="cannot load to check"):
        module_source(CATALOGUE["rnn"], check=True, backend="javascript")
    with pytest.raises(UnknownBackend):
        generate(CATALOGUE["rnn"], backend="fortran")


def test_a_printer_names_the_node_it_cannot_print():
    printer = BACKENDS["javascript"].printer()
    with pytest.raises(NotImplementedError, match="no JavaScript for the statement node StackRows"):
        printer(ir.StackRows(("W_o", "W_i")))


def test_the_command_line_writes_a_cell_in_any_backend(capsys):
    assert cli.main(["code", "rnn", "--backend", "javascript"]) == 0
    assert capsys.readouterr().out == module_source(CATALOGUE["rnn"], backend="javascript")
    assert cli.main(["code", "rnn", "--backend", "numpy"]) == 0
    assert capsys.readouterr().out == module_source(CATALOGUE["rnn"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["code", "rnn", "--backend", "jax"],
            "argument --backend: unknown backend 'jax'; the backends are numpy, javascript, torch",
        ),
        (["code", "--backend", "javascript"], "--backend javascript writes one cell's module: name the cell"),
    ],
)
def test_an_unknown_backend_is_a_usage_mistake(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

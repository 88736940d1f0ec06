"""The module check (pysd_runner/verify.py) on a real translation, edited one construct at a
time: each edit PySD's builder would never write is refused, naming the variable it sits in."""

from __future__ import annotations

import pytest

from carespiral.errors import UnsafeModelError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.verify import verify_source

RETURN = "    return _integ_social_workers()\n"  # the body of the stock 'Social Workers'


@pytest.fixture(scope="module")
def source() -> str:
    text = load("workforce_spiral").load_info.translated.read_text(encoding="utf-8")
    assert RETURN in text
    return text


def test_the_translation_as_written_passes(source) -> None:
    found = verify_source(source, "workforce_spiral.mdl")
    assert found.externals == () and found.macros == ()


EDITS = {
    "a call to __import__": ("    __import__('os').system('true')\n" + RETURN, "__import__"),
    "exec": ("    exec('1')\n" + RETURN, "'exec'"),
    "eval in the returned value": ("    return eval('1')\n", "'eval'"),
    "open": ("    return open('/etc/passwd')\n", "'open'"),
    "a dunder attribute": ("    return ().__class__\n", "'__class__'"),
    "an attribute outside the list": ("    return np.load('x.npy')\n", "'load'"),
    "an import in a function": ("    import os\n" + RETURN, "Import"),
    "a comprehension": ("    return [x for x in ()]\n", "a comprehension"),
    "a loop": ("    for i in range(3):\n        pass\n" + RETURN, "For"),
    "a lambda with arguments": ("    return (lambda f: f)(1)\n", "a lambda with arguments"),
    "an f-string": ("    return f'{1}'\n", "an f-string"),
    "a global": ("    global np\n" + RETURN, "Global"),
    "an assignment to another name": ("    np = None\n" + RETURN, "'np'"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_in_a_variable_is_refused_naming_it(source, edit) -> None:
    body, says = EDITS[edit]
    with pytest.raises(UnsafeModelError) as err:
        verify_source(source.replace(RETURN, body, 1), "workforce_spiral.mdl")
    msg = str(err.value)
    assert "variable 'Social Workers'" in msg and says in msg, msg


@pytest.mark.parametrize("line,says", [
    ("import os\n", "an import of 'os'"),
    ("from pysd.py_backend.utils import load_modules\n", "an import from"),
    ("from pysd.py_backend.model import Model\n", "an import of 'Model'"),
    ("from pysd.py_backend.functions import np\n", "an import of 'np'"),
    ("_x = Integ(lambda: __import__('os'), lambda: 0, '_x')\n", "'__import__'"),
    ("_y = ExtData('/etc/passwd', 'a', 'b', 'c', None, {}, _root, {}, '_y')\n",
     "an external data file outside"),
    ("_z = Macro(_root.joinpath('../evil.py'), {}, 'm')\n", "a macro loaded from"),
    ("print('hello')\n", "a call to 'print'"),
    ("__builtins__ = {}\n", "an assignment to '__builtins__'"),
    ("class Evil: pass\n", "ClassDef"),
    ("x: int = 1\n", "AnnAssign"),
])
def test_a_module_level_addition_is_refused(source, line, says) -> None:
    edited = source.replace("\ncomponent = Component()\n",
                            "\ncomponent = Component()\n" + line, 1)
    assert edited != source
    edited = edited.replace("from pysd import Component\n",
                            "from pysd import Component\nfrom pysd.py_backend.external import "
                            "ExtData\nfrom pysd.py_backend.model import Macro\n", 1)
    with pytest.raises(UnsafeModelError, match="the translated module contains") as err:
        verify_source(edited, "workforce_spiral.mdl")
    assert says in str(err.value), str(err.value)


def test_text_that_is_not_python_is_refused(source) -> None:
    with pytest.raises(UnsafeModelError, match="not valid Python"):
        verify_source(source.replace(RETURN, "    return '\n", 1), "workforce_spiral.mdl")

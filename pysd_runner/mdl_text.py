"""Reading a Vensim `.mdl` file, and taking its free text out before PySD sees it.

A Vensim equation is `name = expression ~ units ~ comment |`; a group header is
`name ~ comment |`. PySD copies comments into the translated module's docstrings without escaping
them, so a comment holding three double quotes can end the docstring and run code. Before
translation, every comment (of equations, of macros' equations and of groups) is replaced by a
placeholder (`CARESPIRAL_COMMENT_<n>`); the comments themselves are kept aside, capped at
`MAX_COMMENT` characters, for documentation (`Model.variables`, `describe`). The equations, units
and names are left exactly as written, so the model computes the same.

The fields are found the way PySD's grammar finds them (`section_elements.peg`): the model text
ends at the sketch marker; an element field runs to the next `~` or `|` outside a quoted name
(`"..."`, where `\\"` is an escaped quote); a comment runs to the next `~` or `|`.
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from carespiral.errors import FileFormatError

__all__ = ["MAX_COMMENT", "NeutralText", "neutralise", "read_mdl"]

MAX_COMMENT = 20_000  # characters of a comment kept for documentation
PLACEHOLDER = "CARESPIRAL_COMMENT_{}"
_SKETCH = "\\\\\\---///"
_FIELD_END = re.compile(r'[~|"\[]')
_COMMENT_END = re.compile(r"[~|]")
_CLOSING_QUOTE = re.compile(r'(?<!\\)"')
_PLACEHOLDER = re.compile(r"CARESPIRAL_COMMENT_(\d+)")
_NUM = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
_PAIR = rf"\({_NUM},{_NUM}\)"
_RANGE = re.compile(rf"\s*{_PAIR}(?:\s*[-,]\s*{_PAIR})*\s*")  # numbers only: safe to eval
_CONTINUATION = re.compile(r"\\[ \t]*\n")  # a line continued, as PySD joins it
_ODD = re.compile("[\x00-\x08\x0e-\x1f\ufffd]")
_QUOTED = re.compile(r'"(?:\\"|[^"])*"')


class _BadRange(Exception):
    def __init__(self, pos: int, content: str) -> None:
        super().__init__(content)
        self.pos = pos
        self.content = content


@dataclass(frozen=True)
class NeutralText:
    """A model's text with its comments replaced by placeholders, and the comments."""

    text: str
    comments: tuple[str, ...]

    def comment(self, placeholder: str) -> str:
        """The comment a placeholder stands for ('' for any other text)."""
        m = _PLACEHOLDER.fullmatch(placeholder.strip())
        return self.comments[int(m.group(1))] if m else ""


def read_mdl(path: Path, data: bytes | None = None) -> str:
    """The text of a Vensim file, or a FileFormatError for an empty or binary file."""
    data = path.read_bytes() if data is None else data
    if not data.strip():
        raise FileFormatError(path, "the model file is empty",
                              hint="a Vensim model has equations such as `Stock = INTEG(Flow, 0)`")
    if b"\x00" in data:
        raise FileFormatError(path, "not a text file (it contains binary data)",
                              hint="expected a Vensim .mdl model, which is plain text")
    encoding = "utf-8"
    m = re.match(rb"\s*\{([A-Za-z0-9_.:-]{1,40})\}", data)
    if m:
        try:
            encoding = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            encoding = "utf-8"
    # universal newlines, as PySD reads a file (line continuations are backslash-newline)
    text = data.decode(encoding, errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    odd = len(_ODD.findall(text))
    if odd > max(8, len(text) // 100):
        raise FileFormatError(path, f"not a text file in the {encoding} encoding it declares "
                              f"or assumes ({odd} characters cannot be read)",
                              hint="save the model as text (Vensim writes {UTF-8} on line 1)")
    return text


def neutralise(text: str, path: Path | None = None) -> NeutralText:
    """Replace every comment field of the model part by a placeholder (see the module doc).

    Also refuses a lookup range that is not `[(xmin,ymin)-(xmax,ymax)]` in numbers: PySD's
    parser evaluates that text with Python's `eval`, so it must never hold anything else.
    """
    try:
        return _neutralise(text)
    except _BadRange as exc:
        line = text.count("\n", 0, exc.pos) + 1
        raise FileFormatError(
            path or "model", f"the lookup range [{exc.content.strip()[:80]}] is not "
            "[(xmin,ymin)-(xmax,ymax)] in numbers", line=line,
            hint="write the range with numbers only, e.g. [(0,0)-(10,2)]") from None


def _neutralise(text: str) -> NeutralText:
    cut = text.find(_SKETCH)
    model, sketch = (text, "") if cut < 0 else (text[:cut], text[cut:])
    closers = [m.start() for m in _CLOSING_QUOTE.finditer(model)]
    out: list[str] = []
    comments: list[str] = []
    done = 0  # model[:done] is already in `out`
    pos = 0
    n = len(model)

    def replace(start: int, end: int) -> None:
        nonlocal done
        head = model[start:min(end, start + 4 * MAX_COMMENT)]
        if not head.strip() and not model[start:end].strip():
            return
        out.append(model[done:start])
        out.append(" " + PLACEHOLDER.format(len(comments)) + " ")
        comments.append(_cap(" ".join(head.split()), end - start))
        done = end

    while pos < n:
        end1 = _element_end(model, pos, closers)
        if end1 >= n or model[end1] == "|":
            pos = end1 + 1  # trailing text, or an entry PySD will not parse either
            continue
        start2 = end1 + 1
        end2 = _element_end(model, start2, closers)
        if end2 >= n:
            break
        if model[end2] == "|":  # a group: name ~ comment |
            replace(start2, end2)
            pos = end2 + 1
            continue
        start3 = end2 + 1
        m = _COMMENT_END.search(model, start3)
        end3 = m.start() if m else n
        replace(start3, end3)
        pos = end3
        if pos < n and model[pos] == "~":  # an optional fourth field (:SUPPLEMENTARY)
            pos = _element_end(model, pos + 1, closers)
        pos += 1
    out.append(model[done:])
    return NeutralText("".join(out) + sketch, tuple(comments))


def _element_end(text: str, pos: int, closers: list[int]) -> int:
    """Where an element field starting at `pos` ends (the index of its `~` or `|`, or len)."""
    n = len(text)
    while True:
        m = _FIELD_END.search(text, pos)
        if m is None:
            return n
        if m.group() == "[":
            # a lookup range runs to the first "]" (PySD's grammar) and PySD's parser evaluates
            # it: anything that could call code (a parenthesis outside a quoted name) that is
            # not a numeric range is refused; the field's end is still found as PySD finds it
            close = text.find("]", m.start() + 1)
            content = text[m.start() + 1:n if close < 0 else close]
            if "(" in _QUOTED.sub("", content) and not _RANGE.fullmatch(
                    _CONTINUATION.sub(" ", content)):
                raise _BadRange(m.start(), content)
            pos = m.start() + 1
            continue
        if m.group() != '"':
            return m.start()
        # a quoted name runs to the next quote not escaped by a backslash; a quote never
        # closed is an ordinary character (as in PySD's grammar)
        k = bisect.bisect_right(closers, m.start())
        pos = closers[k] + 1 if k < len(closers) else m.start() + 1


def _cap(comment: str, length: int) -> str:
    """At most MAX_COMMENT characters of a comment (`length` characters long as written)."""
    if len(comment) <= MAX_COMMENT and length <= 4 * MAX_COMMENT:
        return comment
    return comment[:MAX_COMMENT].rstrip() + f" ... [comment cut: {length:,} characters]"

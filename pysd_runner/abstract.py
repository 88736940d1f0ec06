"""One parse per model file: PySD's abstract model, cached by the file's content.

PySD reads a model in two steps: its translator parses the file into an *abstract model*
(dataclasses of `pysd.translators.structures`), and its builder writes Python from that. The
translation (`translate`), the batch backend's lowering and the dependency graph all start from
the abstract model, so it is made once per file version here:

- Vensim files are parsed from their neutralised text (`mdl_text`: comments replaced by
  placeholders, so no comment reaches PySD's parser); the comments are put back on the elements
  afterwards, capped, for documentation;
- parse errors become a `FileFormatError` naming the file, the line and the variable.

The returned abstract model is shared: read it, never change it (`copy.deepcopy` first).
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carespiral.errors import FileFormatError
from carespiral.pysd_runner.mdl_text import MAX_COMMENT, neutralise, read_mdl

__all__ = ["ParsedModel", "abstract_model", "parse_model"]

VENSIM_SUFFIXES = frozenset({".mdl"})
XMILE_SUFFIXES = frozenset({".xmile", ".xml", ".stmx"})
_CACHE_SIZE = 256  # abstract models are small; a test session parses a few hundred


@dataclass(frozen=True)
class ParsedModel:
    """A parsed model file: its resolved path, content hash, abstract model and comments."""

    path: Path
    digest: str  # SHA-256 of the file's bytes
    abstract: Any  # pysd.translators.structures.abstract_model.AbstractModel
    comments: dict[str, str]  # element name -> its comment (capped)


_cache: OrderedDict[tuple[str, str], ParsedModel] = OrderedDict()
_lock = threading.Lock()


def abstract_model(path: str | Path) -> Any:
    """PySD's abstract model of a `.mdl` or XMILE file, parsed once per file version."""
    return parse_model(path).abstract


def model_path(path: str | Path) -> Path:
    """`path` as a Path if it is a model file carespiral reads (Vensim or XMILE), else a
    FileFormatError saying what was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such model file",
                              hint="give a bundled model name or a .mdl path")
    if path.suffix.lower() not in VENSIM_SUFFIXES | XMILE_SUFFIXES:
        raise FileFormatError(path, f"unsupported model file type {path.suffix.lower()!r}",
                              hint="expected a Vensim .mdl or XMILE file")
    return path


def parse_model(path: str | Path) -> ParsedModel:
    """Parse a model file (cached by its resolved path and content hash)."""
    path = model_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(path, f"cannot read the model file: {exc.strerror}") from None
    key = (str(path.resolve()), hashlib.sha256(data).hexdigest())
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    parsed = _parse(path, data, key[1])
    with _lock:
        _cache[key] = parsed
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return parsed


def _parse(path: Path, data: bytes, digest: str) -> ParsedModel:
    from parsimonious.exceptions import ParseError, VisitationError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PySD warns about encodings and sketches
            if path.suffix.lower() in VENSIM_SUFFIXES:
                am, comment_of = _parse_vensim(path, data)
            else:
                am, comment_of = _parse_xmile(path, data)
    except FileFormatError:
        raise
    except ParseError as exc:
        line, snippet = _locate(path, exc)
        raise FileFormatError(
            path, f"cannot parse the equation near {snippet!r}: {_short(exc)}", line=line,
            hint="check the equation's syntax (operators, parentheses, '~' separators; "
            "a '~' inside a comment ends the comment field)") from None
    except VisitationError as exc:
        raise _visitation_error(path, exc) from None
    except RecursionError:
        raise FileFormatError(path, "an equation is nested too deeply to parse") from None
    except Exception as exc:  # PySD's translator raises bare exceptions on malformed input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(path, f"PySD cannot read the model: {first[:300]}",
                              hint="check the equation's syntax") from None
    comments: dict[str, str] = {}
    for section in am.sections:
        for el in section.elements:
            text = comment_of(el.documentation or "")
            el.documentation = text
            if text and section.type == "main":
                comments[el.name] = text
    return ParsedModel(path.resolve(), digest, am, comments)


def _parse_vensim(path: Path, data: bytes):
    from pysd.translators.vensim.vensim_file import VensimFile

    neutral = neutralise(read_mdl(path, data), path)

    class _NeutralVensimFile(VensimFile):
        def _read(self, encoding):  # the neutralised text instead of the file's
            return neutral.text

    vf = _NeutralVensimFile(path)
    vf.parse()
    return vf.get_abstract_model(), neutral.comment


def _refuse_entities(path: Path, data: bytes) -> None:
    """Refuse a DOCTYPE that declares entities before PySD's parser sees the file.

    XMILE never needs them, and how lxml treats an external entity changes between
    releases (resolved, dropped, or left as a node PySD cannot read), so the file is
    read here with entities off and refused by rule rather than by version.
    """
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True,
                             recover=True, huge_tree=False)
    try:
        tree = etree.fromstring(data, parser=parser).getroottree()
    except (etree.XMLSyntaxError, ValueError, AttributeError):
        return  # unreadable XML: PySD's own parse reports it
    dtd = tree.docinfo.internalDTD
    names = [e.name for e in dtd.iterentities()] if dtd is not None else []
    if names:
        line = next((i for i, text in enumerate(data.splitlines(), 1) if b"<!ENTITY" in text),
                    None)
        raise FileFormatError(
            path, f"the file declares XML entities ({', '.join(names[:5])}); "
            "carespiral does not read entities or DTDs in XMILE files", line=line,
            hint="remove the <!DOCTYPE ...> block and write the text in place")


def _parse_xmile(path: Path, data: bytes):
    from pysd.translators.xmile.xmile_file import XmileFile

    _refuse_entities(path, data)
    xf = XmileFile(path)
    xf.parse()

    def capped(text: str) -> str:
        text = " ".join(text[: 4 * MAX_COMMENT].split())
        return text[:MAX_COMMENT]

    return xf.get_abstract_model(), capped


def _visitation_error(path: Path, exc: Exception) -> FileFormatError:
    """PySD failed while reading a parsed entry (e.g. a units range it cannot read)."""
    lines = str(exc).splitlines()
    cause = lines[0] if lines else type(exc).__name__
    m = re.search(r'matching "(.*)">\s+<-- \*\*\* We were here', str(exc))
    entry = m.group(1) if m else ""
    name = re.split(r"[=~(\[:]", entry, maxsplit=1)[0].strip() if entry else ""
    line = _find_line(path, name) if name else None
    units = entry.split("~")[1].strip() if entry.count("~") >= 2 else ""
    if name and "[" in units and "convert" in cause:
        return FileFormatError(
            path, f"variable {name!r}: cannot read the range in its units field {units!r} "
            f"({cause.split(': ', 1)[-1]})", line=line,
            hint="a range is [min, max] or [min, max, step] with numbers or ?, e.g. [0, 100]")
    what = f"variable {name!r}: " if name else ""
    return FileFormatError(path, f"{what}PySD cannot read this entry: {cause[:300]}", line=line)


def _short(exc: Exception) -> str:
    return str(exc).split(" (line")[0][:300]


def _locate(path: Path, exc: Any) -> tuple[int | None, str]:
    """Map a parsimonious error (positions relative to one equation) to a line of the file."""
    text = getattr(exc, "text", "") or ""
    pos = getattr(exc, "pos", 0) or 0
    snippet = text[pos : pos + 30].strip() or text.strip()[:30]
    content = path.read_text(encoding="utf-8", errors="replace")
    anchor = text.strip()[:60]
    idx = content.find(anchor) if anchor else -1
    if idx < 0:
        return None, snippet
    offset = content.find(text[pos : pos + 10], idx) if text[pos : pos + 10].strip() else idx
    if offset < 0:
        offset = idx
    return content.count("\n", 0, offset) + 1, snippet


def _find_line(path: Path, needle: str) -> int | None:
    content = path.read_text(encoding="utf-8", errors="replace").lower()
    idx = content.find(needle.lower())
    return None if idx < 0 else content.count("\n", 0, idx) + 1

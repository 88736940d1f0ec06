"""Reading TOML files against a declared schema, with errors that name file, line and key.

Every TOML file carespiral reads (scenarios, calibration specs, exploration specs, the model
catalogue) declares its shape as a pydantic model (strict types: `"5"` is not a number, `8.5`
is not a whole number, NaN and infinity are not finite numbers; unknown keys are refused).
`read_toml` reads a file (UTF-8 and TOML errors name the line), `check` validates a document
against its schema and turns the first mistake into a `FileFormatError` that names the file,
the line, the key, what was expected and what was found:

    scenario.toml, line 7: [[inputs]] number 1 (pulse), key duration: expected a number
    greater than 0, found -3

tomllib keeps no positions, so `locate` finds a key's line in the text (tables, arrays of
tables, dotted and quoted keys).

    >>> from pydantic import BaseModel
    >>> class Spec(Schema):
    ...     runs: PositiveInt = 10
    >>> text = 'title = "x"\\nruns = 8.5\\n'
    >>> try:
    ...     check(Spec, {"runs": 8.5}, "spec.toml", text)
    ... except FileFormatError as exc:
    ...     print(exc)
    spec.toml, line 2: key runs: expected a whole number, found 8.5
"""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from carespiral.errors import FileFormatError

__all__ = [
    "Finite",
    "NonNegative",
    "Positive",
    "PositiveInt",
    "Schema",
    "Seed",
    "check",
    "check_table",
    "describe_key",
    "locate",
    "parse_toml",
    "read_text",
    "read_toml",
]

S = TypeVar("S", bound=BaseModel)

# the value types the schemas are made of
Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0, lt=2**32)]


class Schema(BaseModel):
    """Base of every file schema: strict types, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def read_toml(path: str | Path, what: str = "file") -> tuple[dict[str, Any], str]:
    """The parsed document and the text of a TOML file; a file that cannot be read, is not
    UTF-8 or is not TOML is a FileFormatError naming the line."""
    text = read_text(path, what)
    return parse_toml(text, path, what), text


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file's content; a file that cannot be read or is not UTF-8 is a
    FileFormatError (naming the line of the first byte that is not UTF-8)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(path, f"cannot read the {what}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileFormatError(path, f"not UTF-8 text (byte {raw[exc.start]:#04x})", line=line,
                              hint=f"save the {what} as UTF-8") from None


def parse_toml(text: str, path: str | Path, what: str = "file") -> dict[str, Any]:
    """TOML text as a document; a syntax error names the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FileFormatError(path, f"not valid TOML: {str(exc).split(' (at')[0]}",
                              line=int(m.group(1)) if m else None,
                              hint=f"see the format of a {what} in the documentation") from None


def check(schema: type[S], doc: Any, path: str | Path, text: str = "",
          context: dict[str, Any] | None = None) -> S:
    """`doc` validated against `schema`; the first mistake is a FileFormatError."""
    try:
        return schema.model_validate(doc, context=context)
    except ValidationError as exc:
        raise _error(exc, schema, doc, path, text) from None


def check_table(frame: Any, path: str | Path, *, numeric: Sequence[str] | None = None,
                text_columns: Sequence[str] = (), required: Sequence[str] = (),
                min_rows: int = 0, what: str = "table") -> None:
    """A table read from a file (a result's CSV or Parquet, possibly edited by hand) has the
    `required` columns, at least `min_rows` rows and numbers in the `numeric` columns present
    (default: every column but `text_columns` and dates); a mistake names the file, the row (and the line of a CSV), the
    column and the value found."""
    import pandas as pd

    path = Path(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FileFormatError(path, f"the {what} has no column {missing[0]!r}",
                              hint="columns found: " + (", ".join(map(str, frame.columns))
                                                        or "none"))
    if len(frame) < min_rows:
        raise FileFormatError(path, f"the {what} has {len(frame)} rows; at least {min_rows} "
                              "expected")
    csv = path.suffix.lower() == ".csv"
    for col in frame.columns:
        values = frame[col]
        if col in text_columns or not isinstance(values, pd.Series) or (
                numeric is not None and col not in numeric):
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = [i for i, (v, n) in enumerate(zip(values, numbers, strict=True))
               if pd.isna(n) and not pd.isna(v) and not isinstance(v, bool)]
        if bad:
            i = bad[0]
            label = frame.index[i] if not isinstance(frame.index, pd.RangeIndex) else None
            row = f"row {i + 1}" + (f" ({label})" if label is not None else "")
            raise FileFormatError(path, f"{row}, column {col!r}: expected a number, found "
                                  f"{_found(values.iloc[i])}", line=i + 2 if csv else None,
                                  hint=f"the {what} was changed or damaged; write it again")


def describe_key(loc: Sequence[str | int], doc: Any = None) -> str:
    """A key path as a person reads it: `[[inputs]] number 2 (pulse), key duration` or
    `[optimise], key population`."""
    parts: list[str] = []
    tables: list[str] = []
    node = doc
    keys = list(loc)
    for i, key in enumerate(keys):
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        if isinstance(key, int):
            continue
        child = _get(node, key)
        if isinstance(nxt, int):  # an array of tables (or a list value) and its item
            item = _get(child, nxt)
            if isinstance(item, dict):
                kind = f" ({item['type']})" if isinstance(item.get("type"), str) else ""
                parts.append(f"[[{'.'.join([*tables, _quote(key)])}]] number {nxt + 1}{kind}")
                tables = []
            else:
                if tables:
                    parts.append(f"[{'.'.join(tables)}]")
                    tables = []
                parts.append(f"key {_quote(key)}, item {nxt + 1}")
            node = item
            continue
        if i == len(keys) - 1:
            if tables:
                parts.append(f"[{'.'.join(tables)}]")
            parts.append(f"key {_quote(key)}")
        else:
            tables.append(_quote(key))
        node = child
    if tables and (not keys or not isinstance(keys[-1], str)):
        parts.append(f"[{'.'.join(tables)}]")
    return ", ".join(parts) or "the file"


def locate(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of key path `loc` (e.g. ("inputs", 0, "duration")) in TOML `text`: the line
    of the key, else of the deepest table or key on its way."""
    if not text:
        return None
    target = tuple(loc)
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str | int, ...], int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r"^\[\[(.+?)\]\]\s*(#.*)?$", stripped)
        if m:
            keys = tuple(_split_keys(m.group(1)))
            base = _with_indices(keys, table, counts, new_item=True)
            table = base
            path = base
        else:
            m = re.match(r"^\[(.+?)\]\s*(#.*)?$", stripped)
            if m:
                table = _with_indices(tuple(_split_keys(m.group(1))), table, counts)
                path = table
            else:
                m = re.match(r"^((?:[A-Za-z0-9_-]+|\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*')"
                             r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'))*)"
                             r"\s*=", stripped)
                if not m:
                    continue
                path = table + tuple(_split_keys(m.group(1)))
        depth = _common(path, target)
        if depth and (best is None or depth > best[0]):
            best = (depth, n)
            if depth == len(target):
                return n
    return best[1] if best else None


# ---- internals -------------------------------------------------------------------------------


def _error(exc: ValidationError, schema: type[BaseModel], doc: Any, path: str | Path,
           text: str) -> FileFormatError:
    errors = exc.errors(include_url=False)
    if not errors:  # pragma: no cover - pydantic always lists at least one
        return FileFormatError(path, str(exc))

    def key_path(e: dict[str, Any]) -> tuple[str | int, ...]:
        return _drop_tags(_loc(e), doc, keep_last=e["type"] in ("missing", "extra_forbidden"))

    def place(e: dict[str, Any]) -> tuple[float, int]:
        line = locate(text, key_path(e))
        return (float("inf") if line is None else line, -len(key_path(e)))

    err = min(errors, key=place)  # the first mistake in the file, the most specific
    loc = key_path(err)
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = str((err.get("ctx") or {}).get("discriminator", "type")).strip("'")
        loc = (*loc, tag)
        err = {**err, "input": _get(_get_path(doc, loc[:-1]), tag)}
        if err["input"] is _MISSING:
            err = {**err, "type": "missing"}
    where = describe_key(loc, doc)
    kind = err["type"]
    hint = ""
    if kind == "extra_forbidden":
        problem = f"{where}: unknown key"
        allowed = _allowed(schema, loc[:-1], doc)
        if allowed:
            hint = "expected one of " + ", ".join(sorted(allowed))
    elif kind == "missing":
        problem = f"{where}: missing (it is required)"
    else:
        problem = f"{where}: expected {_expected(err)}, found {_found(err.get('input'))}"
    return FileFormatError(path, problem, line=locate(text, loc), hint=hint)


def _loc(err: dict[str, Any]) -> tuple[str | int, ...]:
    return tuple(x for x in err["loc"] if isinstance(x, str | int))


def _get_path(node: Any, loc: Sequence[str | int]) -> Any:
    for key in loc:
        node = _get(node, key)
    return node


# pydantic error types whose expectation is one value of the error's context: (words, key)
_BOUNDED = {
    "greater_than": ("a number greater than {}", "gt"),
    "greater_than_equal": ("a number of at least {}", "ge"),
    "less_than": ("a number below {}", "lt"),
    "less_than_equal": ("a number of at most {}", "le"),
    "literal_error": ("one of {}", "expected"),
    "union_tag_invalid": ("one of {}", "expected_tags"),
    "union_tag_not_found": ("one of {}", "expected_tags"),
    "too_short": ("at least {} item(s)", "min_length"),
    "too_long": ("at most {} item(s)", "max_length"),
}


def _expected(err: dict[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    simple = {
        "int_type": "a whole number", "int_parsing": "a whole number",
        "int_from_float": "a whole number", "float_type": "a number",
        "float_parsing": "a number", "finite_number": "a finite number (not nan or inf)",
        "string_type": "text in quotes", "bool_type": "true or false",
        "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table",
        "list_type": "a list [...]", "tuple_type": "a list [...]",
    }
    if kind in simple:
        return simple[kind]
    if kind in _BOUNDED:
        template, key = _BOUNDED[kind]
        value = ctx.get(key, "")
        return template.format(_num(value) if key in ("gt", "ge", "lt", "le") else value)
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "assertion_error":
        return str(err["msg"]).removeprefix("Assertion failed, ")
    return str(err["msg"]).removeprefix("Input should be ").rstrip(".")


def _num(x: Any) -> str:
    return f"{x:,g}" if isinstance(x, int | float) else str(x)


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "a table" if value else "an empty table"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "text " + (repr(value) if len(value) <= 60 else repr(value[:57] + "..."))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _drop_tags(loc: tuple[str | int, ...], doc: Any, keep_last: bool = False) -> tuple[str | int, ...]:
    """The key path of an error without the names pydantic adds for a union's members
    (inputs, 0, 'pulse', duration; uncertainties, X, 'list[...]', 0): keys the document does
    not hold, except a missing last key (`keep_last`)."""
    out: list[str | int] = []
    node = doc
    for i, key in enumerate(loc):
        child = _get(node, key)
        if child is _MISSING and not (keep_last and i == len(loc) - 1):
            continue
        out.append(key)
        node = child
    return tuple(out)


_MISSING = object()


def _get(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key, _MISSING)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return _MISSING


def _allowed(schema: type[BaseModel], loc: tuple[str | int, ...], doc: Any) -> list[str]:
    """The keys the table at `loc` may hold (for the hint of an unknown key)."""
    model: Any = schema
    node = doc
    keys = list(loc)
    i = 0
    while i < len(keys):
        key = keys[i]
        field = getattr(model, "model_fields", {}).get(key) if isinstance(key, str) else None
        if field is None:
            return []
        node = _get(node, key)
        ann = field.annotation
        if typing.get_origin(ann) is dict and i + 1 < len(keys):  # a table of free names
            node = _get(node, keys[i + 1])
            ann = typing.get_args(ann)[1]
            i += 1
        elif i + 1 < len(keys) and isinstance(keys[i + 1], int):
            node = _get(node, keys[i + 1])
            i += 1
        model = _model_of(ann, node)
        if model is None:
            return []
        i += 1
    return list(getattr(model, "model_fields", {}))


def _model_of(annotation: Any, node: Any) -> Any:
    """The pydantic model inside an annotation (list[X], X | None, tagged unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg, node)
        if found is None:
            continue
        tag = node.get("type") if isinstance(node, dict) else None
        fields = getattr(found, "model_fields", {})
        if tag is None or "type" not in fields or tag in typing.get_args(
                fields["type"].annotation):
            return found
    return None


def _quote(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _split_keys(text: str) -> list[str]:
    """`a."b c".d` -> ["a", "b c", "d"]."""
    keys: list[str] = []
    for m in re.finditer(r"\s*(?:\"((?:[^\"\\\\]|\\\\.)*)\"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)",
                         text):
        if m.group(1) is not None:
            keys.append(m.group(1).encode().decode("unicode_escape") if "\\" in m.group(1)
                        else m.group(1))
        else:
            keys.append(m.group(2) if m.group(2) is not None else m.group(3))
    return keys


def _with_indices(keys: tuple[str, ...], table: tuple[str | int, ...],
                  counts: dict[tuple[str | int, ...], int],
                  new_item: bool = False) -> tuple[str | int, ...]:
    """The path of a table header, with the index of each array of tables it passes through."""
    path: list[str | int] = []
    for k, key in enumerate(keys):
        path.append(key)
        last = k == len(keys) - 1
        if last and new_item:
            n = counts.get(tuple(path), -1) + 1
            counts[tuple(path)] = n
            path.append(n)
        elif tuple(path) in counts:  # inside the current item of an array of tables
            path.append(counts[tuple(path)])
    return tuple(path)


def _common(a: tuple[str | int, ...], b: tuple[str | int, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n

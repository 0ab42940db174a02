"""Turn ``%kestra_run`` input options into the API's ``inputs=`` and ``files=`` arguments.

``KEY=text`` is sent as text; ``KEY=$name`` takes a notebook variable (a DataFrame or a path is
uploaded as a FILE input); ``KEY=@path`` uploads a file; ``$$`` and ``@@`` escape a literal ``$``/``@``.
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Mapping

from kestra_magic.notebook.errors import KestraMagicError


def _is_dataframe(value: Any) -> bool:
    t = type(value)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def _file(path_text: str, where: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise KestraMagicError(f"file {path_text!r} not found ({where}); give an existing path after @",
                               kind="FileNotFoundError")
    return path


def _variable(user_ns: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in user_ns:
        raise KestraMagicError(f"notebook variable {name!r} is not defined ({where}); define it first "
                               f"or write $$ for a literal $", kind="NameError")
    return user_ns[name]


def _place(key: str, value: Any, inputs: dict, files: dict) -> None:
    """A value goes to ``files`` (DataFrame, path, bytes: the client encodes them as FILE parts)
    or to ``inputs`` (anything else)."""
    if _is_dataframe(value) or isinstance(value, (bytes, bytearray)):
        files[key] = value
    elif isinstance(value, PathLike):
        files[key] = _file(str(value), f"input {key}")
    else:
        inputs[key] = value


def resolve_inputs(user_ns: Mapping[str, Any], pairs: list[str], inputs_ref: str | None,
                   cell_inputs: Mapping[str, Any] | None) -> tuple[dict, dict]:
    """(inputs, files) from the cell body mapping, ``--inputs $dict`` and ``--input`` pairs (in
    that order; later ones win)."""
    inputs: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for key, value in (cell_inputs or {}).items():
        _place(str(key), value, inputs, files)
    if inputs_ref:
        if not inputs_ref.startswith("$") or inputs_ref.startswith("$$"):
            raise KestraMagicError(f"--inputs takes a notebook dict as $name, not {inputs_ref!r}",
                                   kind="UsageError")
        mapping = _variable(user_ns, inputs_ref[1:], "--inputs")
        if not isinstance(mapping, Mapping):
            raise KestraMagicError(f"--inputs {inputs_ref} is a {type(mapping).__name__}, not a dict of "
                                   f"inputs", kind="TypeError")
        for key, value in mapping.items():
            _place(str(key), value, inputs, files)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise KestraMagicError(f"--input {pair!r} is not KEY=VALUE", kind="UsageError")
        where = f"--input {pair}"
        inputs.pop(key, None)
        files.pop(key, None)
        if text.startswith("$$") or text.startswith("@@"):
            inputs[key] = text[1:]
        elif text.startswith("$") and len(text) > 1:
            _place(key, _variable(user_ns, text[1:], where), inputs, files)
        elif text.startswith("@") and len(text) > 1:
            files[key] = _file(text[1:], where)
        else:
            inputs[key] = text
    return inputs, files


def parse_cell_inputs(cell: str) -> dict:
    """The ``%%kestra_run`` body: a YAML mapping of inputs (empty body: no inputs)."""
    import yaml

    from kestra_magic import safe_yaml
    if not cell.strip():
        return {}
    try:
        data = safe_yaml.load(cell)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at cell line {mark.line + 2}, column {mark.column + 1}" if mark else ""
        raise KestraMagicError(f"inputs YAML syntax error{where}: {getattr(err, 'problem', err)}",
                               kind="YAMLError") from None
    if not isinstance(data, dict):
        raise KestraMagicError("the %%kestra_run cell body must be a YAML mapping of input: value",
                               kind="UsageError")
    return data

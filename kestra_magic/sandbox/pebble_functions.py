"""Pebble functions with Kestra's names and argument names (io.kestra.core.runners.pebble.functions).

Functions that need the running execution (``render``, ``renderOnce``, ``currentEachOutput``,
``kv``, ``printContext``) are built per render call by :func:`bound_functions` from the variables and
the sandbox services given to ``expressions.render``.
"""
from __future__ import annotations

import base64
import os
import random
import uuid
from typing import Any, Callable

import jinja2

from kestra_magic.sandbox import pebble_dates as dates
from kestra_magic.sandbox.pebble_filters import from_json

MAX_RENDER_ATTEMPTS = 100   # Kestra's VariableRenderer MAX_RENDERING_AMOUNT


def secret_value(key: str = None) -> str:
    """Kestra OSS reads secrets from SECRET_<KEY> environment variables holding the base64 value, the key
    upper-cased, line breaks in the base64 text ignored (io.kestra.core.secret.SecretService;
    SecretFunctionTest: secret('my_secret') reads SECRET_MY_SECRET)."""
    if key is None:
        raise ValueError("The 'secret' function expects an argument 'key'.")
    raw = os.environ.get(f"SECRET_{key}")
    if raw is None:
        raw = os.environ.get(f"SECRET_{str(key).upper()}")
    if raw is None:
        raise ValueError(f"Cannot find secret for key '{key}'. (set the environment variable "
                         f"SECRET_{str(key).upper()} to the base64-encoded value before starting the sandbox)")
    try:
        return base64.b64decode("".join(raw.split()), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"The secret '{key}' is not base64-encoded: Kestra reads SECRET_{str(key).upper()} as "
                         "base64 (encode it with `base64 -w0`)") from None


def known_secrets() -> list[str]:
    """Every secret value the sandbox can hand out (decoded SECRET_* variables), longest first."""
    values = []
    for name, raw in os.environ.items():
        if name.startswith("SECRET_") and raw:
            try:
                value = base64.b64decode("".join(raw.split()), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            if value:
                values.append(value)
    return sorted(set(values), key=len, reverse=True)


SECRET_MASK = "******"   # RunContextLogger.BaseAppender.replaceSecret (RunContextLoggerTest#secrets)


def mask_secrets(message: str) -> str:
    """Kestra replaces the values ``secret()`` handed out by ``******`` in the task's logs; the sandbox
    masks every value it could hand out through ``secret()`` (a superset: they are secrets either way)."""
    for value in known_secrets():
        if value in message:
            message = message.replace(value, SECRET_MASK)
    return message


def _range(start: int, end: int, increment: int = 1) -> list[int]:
    """Pebble's range is inclusive of ``end``."""
    if increment == 0:
        raise ValueError("The increment of the function range must be different than 0")
    return list(range(start, end + (1 if increment > 0 else -1), increment))


def _yaml(yaml: Any = None) -> Any:
    """Kestra's ``yaml()`` (Jackson YAML): strings stay strings (no YAML 1.1 date/timestamp typing)."""
    import yaml as pyyaml
    if yaml is None:
        raise ValueError("The 'yaml' function expects an argument 'yaml'.")
    if not isinstance(yaml, str):
        raise ValueError("The 'yaml' function expects an argument 'yaml' with type string.")

    class _NoDates(pyyaml.resolver.Resolver):
        pass
    _NoDates.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for ch, resolvers in pyyaml.resolver.Resolver.yaml_implicit_resolvers.items()}
    from kestra_magic import safe_yaml           # Kestra's parser limits: aliases, depth, size
    try:
        return safe_yaml.load(yaml, resolver=_NoDates)
    except pyyaml.YAMLError as exc:
        raise ValueError(f"Invalid yaml: {str(exc).splitlines()[0]}") from None


def _random_int(lower: Any = None, upper: Any = None) -> int:
    """randomInt(lower, upper): an integer in [lower, upper]; both integers (RandomIntFunction)."""
    if lower is None or upper is None:
        raise ValueError("The 'randomInt' function expects the arguments 'lower' and 'upper'.")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (lower, upper)):
        raise ValueError("The 'randomInt' function expects 'lower' and 'upper' to be integers.")
    if lower > upper:
        raise ValueError("In 'randomInt' function 'lower' must be lower than or equal to 'upper'.")
    return random.randint(lower, upper)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    out = ""
    while number:
        number, rem = divmod(number, 62)
        out = _BASE62[rem] + out
    return out.rjust(width, "0")


def _nano_id(length: Any = 21, alphabet: str = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") -> str:
    import secrets
    return "".join(secrets.choice(str(alphabet)) for _ in range(int(length)))


def _ksuid() -> str:
    """A KSUID: 4 bytes of seconds since 2014-05-13 then 16 random bytes, base62 on 27 characters."""
    import os as _os
    import time
    stamp = int(time.time()) - 1400000000
    return _base62(int.from_bytes(stamp.to_bytes(4, "big") + _os.urandom(16), "big"), 27)


def _id() -> str:
    """Kestra's IdUtils.create(): a random UUID in base62 (22 characters)."""
    return _base62(uuid.uuid4().int, 22)


def _min(*values: Any) -> Any:
    return min(values[0] if len(values) == 1 and isinstance(values[0], (list, tuple)) else values)


def _max(*values: Any) -> Any:
    return max(values[0] if len(values) == 1 and isinstance(values[0], (list, tuple)) else values)


_NO_ARGUMENT = object()


def _from_json_function(json: Any = _NO_ARGUMENT) -> Any:
    if json is _NO_ARGUMENT:
        raise ValueError("The 'fromJson' function expects an argument 'json'.")
    return from_json(json)


FUNCTIONS: dict[str, Callable] = {
    "now": dates.now, "fromJson": _from_json_function, "secret": secret_value, "range": _range,
    "yaml": _yaml, "uuid": lambda: str(uuid.uuid4()), "id": _id, "randomInt": _random_int,
    "nanoId": _nano_id, "ksuid": _ksuid,
    "max": _max, "min": _min,
    "dayOfWeek": dates.day_of_week, "dayOfMonth": dates.day_of_month, "monthOfYear": dates.month_of_year,
    "hourOfDay": dates.hour_of_day, "isWeekend": dates.is_weekend, "isDateBetween": dates.is_date_between,
}
FUNCTIONS_1X_ONLY: dict[str, Callable] = {"json": _from_json_function}   # removed in 2.0


def bound_functions(variables: dict, render_text: Callable[[str, dict], str], kv: Any = None) -> dict:
    """The functions that read the render call's variables or sandbox services."""

    def render_object(value: Any, recursive: bool) -> Any:
        if isinstance(value, str):
            current = value
            for _ in range(MAX_RENDER_ATTEMPTS if recursive else 1):
                rendered = render_text(current, variables)
                if rendered == current:
                    return rendered
                current = rendered
            if recursive:
                raise ValueError("Too many rendering attempts")
            return current
        if isinstance(value, dict):
            return {k: render_object(v, recursive) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [render_object(v, recursive) for v in value]
        return value

    def render(toRender: Any = None, recursive: bool = True) -> Any:
        if isinstance(toRender, jinja2.Undefined):
            raise ValueError("The 'render' function expects an argument 'toRender'.")
        if not isinstance(recursive, bool):
            raise ValueError("The 'render' function expects an optional argument 'recursive' with type boolean.")
        return render_object(toRender, recursive)

    def render_once(toRender: Any = None) -> Any:
        return render(toRender, recursive=False)

    def current_each_output(outputs: Any = None) -> Any:
        """The outputs of the current EachSequential/EachParallel iteration, descending through the
        enclosing iterations' values (CurrentEachOutputFunction)."""
        if outputs is None or isinstance(outputs, jinja2.Undefined):
            raise ValueError("The 'currentEachOutput' function expects an argument 'outputs'.")
        if not isinstance(outputs, dict):
            raise ValueError("The 'currentEachOutput' function expects an argument 'outputs' with type map.")
        for parent in reversed(list(variables.get("parents") or [])):
            taskrun = parent.get("taskrun") if isinstance(parent, dict) else None
            # Kestra's parents carry `taskrun` only for task runs with a value (Execution.parents)
            if taskrun is not None and taskrun.get("value") is not None and isinstance(outputs, dict):
                outputs = outputs.get(taskrun.get("value"))
        taskrun = variables.get("taskrun") or {}
        return outputs.get(taskrun.get("value")) if isinstance(outputs, dict) else None

    def kv_function(key: Any = None, namespace: Any = None, errorOnMissing: bool = True) -> Any:
        from kestra_magic.sandbox.kv import KVError, KVExpired
        if key is None:
            raise ValueError("The 'kv' function expects an argument 'key'.")
        if kv is None:
            raise ValueError("kv() needs the sandbox's KV store, which this render call was not given")
        flow_ns = (variables.get("flow") or {}).get("namespace")
        ns = namespace if namespace is not None else flow_ns
        if ns is None:
            raise ValueError("kv() needs a namespace (no flow in this context: pass namespace='...')")
        # Kestra OSS reads any namespace (FlowService.checkAllowedNamespace restricts only in EE)
        try:
            kv.check_access(ns, flow_ns)
            found, value = kv.get(ns, str(key), inherit=namespace is None)
        except KVExpired as exc:
            if errorOnMissing:
                raise ValueError(str(exc)) from None
            return None
        except KVError as exc:
            raise ValueError(str(exc)) from None
        if not found and errorOnMissing:
            raise ValueError(f"The key '{key}' does not exist in the namespace '{ns}'.")
        return value

    def env(name: Any = None, default: Any = None) -> Any:
        """env(name, default): the flow's environment variable (the ``envs`` map: ENV_<NAME>)."""
        if name is None:
            raise ValueError("The 'env' function expects an argument 'name'.")
        envs = variables.get("envs") or {}
        value = envs.get(name, envs.get(str(name).lower()))
        return default if value in (None, "") else value

    def fetch_context() -> dict:
        return {k: v for k, v in variables.items() if not callable(v)}

    return {"render": render, "renderOnce": render_once, "currentEachOutput": current_each_output,
            "kv": kv_function, "printContext": fetch_context, "fetchContext": fetch_context, "env": env}

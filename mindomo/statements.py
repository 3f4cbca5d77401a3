"""Reads the ORM compiles once per process, then only binds to new ids.

Building a queryset and compiling it to SQL costs Django more than PostgreSQL takes to run a small read: on the
busiest pages (the gradebook, the parent's page) most of a request's time went there. A read whose SQL text
depends only on *how many* ids it is given, never on their values, is compiled here once per process and
shape (the length of each list of ids) and language (a build may put translated text in its parameters); later
calls put their ids into the remembered parameters.

``bind(key, build, *args)``: ``build(*args)`` returns ``(sql, params, meta)`` (``meta``: anything the caller
needs back, compared as well). ``args`` are ids (ints) or sequences of ids. The first call of a shape builds twice
with two sets of probe ids, negative numbers no row has, and keeps the result only when

- both builds give the same SQL text and ``meta``,
- every parameter is either a probe id in both builds at the same argument position (an id slot), or the
  same constant in both (a string, an integer or a boolean, a decimal, None: never a date or a time, which may
  be "now"),

so a build that uses its ids in any other way (arithmetic, a branch on their value that changes the
parameters, an exception) is not kept: ``bind`` answers None and the caller builds in full, as before. What
no check can see is a branch on an id's value that changes the SQL text for some ids only: a ``build`` must
not have one (the reads using this module build plain filters of the ids; access checks that look at the
person stay outside, before the call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

from django.utils import translation

Build = Callable[..., tuple[str, list[Any], Any]]
Arg = int | Sequence[int]

# Probe ids: primary keys are positive, so no row has these; two sets tell an id slot from a constant.
_PROBE_A = -(1 << 60)
_PROBE_B = -(1 << 61)
_CONSTANT_TYPES = (str, int, Decimal, type(None))  # and their subclasses (bool, a model's choices)
_MAX_SHAPES = 512  # per process: a shape is a key, the lengths of its lists of ids and the language

_UNUSABLE = object()  # a shape whose build cannot be reused: it runs in full every time
_templates: dict[tuple[Hashable, tuple[tuple[int | None, ...], str | None]], Any] = {}
_lock = threading.Lock()


def _shape(args: tuple[Arg, ...]) -> tuple[int | None, ...]:
    return tuple(None if isinstance(arg, int) else len(arg) for arg in args)


def _flatten(args: tuple[Arg, ...]) -> list[int]:
    flat: list[int] = []
    for arg in args:
        if isinstance(arg, int):
            flat.append(arg)
        else:
            flat.extend(arg)
    return flat


def _probe(shape: tuple[int | None, ...], base: int) -> tuple[Arg, ...]:
    """Arguments of ``shape`` made of distinct probe ids ``base``, ``base - 1``..."""
    args: list[Arg] = []
    n = 0
    for length in shape:
        if length is None:
            args.append(base - n)
            n += 1
        else:
            args.append([base - n - i for i in range(length)])
            n += length
    return tuple(args)


def _is_id(value: Any) -> bool:
    """An integer as an id may be given to the database (psycopg's ``Int8`` for a big integer field included);
    booleans and a model's integer choices are constants."""
    return isinstance(value, int) and not isinstance(value, (bool, Enum))


def _template(build: Build, shape: tuple[int | None, ...]) -> Any:
    """``(sql, spec, meta)``, ``spec`` holding for each parameter an id slot (its position in the flattened
    arguments and the integer type it is given as, as a tuple) or a constant; ``_UNUSABLE`` when the build
    fails the checks."""
    probe_a, probe_b = _probe(shape, _PROBE_A), _probe(shape, _PROBE_B)
    try:
        sql_a, params_a, meta_a = build(*probe_a)
        sql_b, params_b, meta_b = build(*probe_b)
    except Exception:  # a build that cannot take probe ids (it reads more than ids) runs in full each time
        return _UNUSABLE
    if sql_a != sql_b or meta_a != meta_b or len(params_a) != len(params_b):
        return _UNUSABLE
    slots_a = {value: n for n, value in enumerate(_flatten(probe_a))}
    slots_b = {value: n for n, value in enumerate(_flatten(probe_b))}
    spec: list[Any] = []
    for a, b in zip(params_a, params_b, strict=True):
        if _is_id(a) and _is_id(b) and a in slots_a and b in slots_b:
            if slots_a[a] != slots_b[b] or type(a) is not type(b):
                return _UNUSABLE
            spec.append((slots_a[a], type(a)))
        elif isinstance(a, _CONSTANT_TYPES) and type(a) is type(b) and a == b and not (_is_id(a) and a in slots_a):
            spec.append(a)
        else:
            return _UNUSABLE
    return sql_a, spec, meta_a


def bind(key: Hashable, build: Build, *args: Arg) -> tuple[str, list[Any], Any] | None:
    """What ``build(*args)`` returns, from the SQL compiled once for this ``key`` and shape of arguments; None
    when this shape's build cannot be reused (the caller then builds in full)."""
    shape = (_shape(args), translation.get_language())
    template = _templates.get((key, shape))
    if template is None:
        template = _template(build, shape[0])
        with _lock:
            if len(_templates) >= _MAX_SHAPES:
                _templates.clear()
            _templates[(key, shape)] = template
    if template is _UNUSABLE:
        return None
    sql, spec, meta = template
    flat = _flatten(args)
    params = [
        (flat[item[0]] if item[1] is int else item[1](flat[item[0]])) if type(item) is tuple else item for item in spec
    ]
    return sql, params, meta


def forget() -> None:
    """Drop every remembered statement (tests)."""
    with _lock:
        _templates.clear()

"""The registry of transfer methods: :data:`METHODS` (name -> :class:`Method`), in order."""
from __future__ import annotations

import difflib

from .base import Method

#: every registered method by name, in registration order (scratch, linear, finetune first)
METHODS: dict[str, Method] = {}

#: numeric kernels compiled at run time for methods without committed kernels
#: ((kernel name, backend) -> function); emptied whenever the registry changes
COMPILED: dict = {}


def register(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to the registry (``replace=True`` to redeclare a name); returns it.

    Registering makes the method available to :func:`symtransfer.risk` and friends (its
    kernels are compiled from its expressions on first use unless generated),
    :func:`symtransfer.simulate` (if it declares a step), sweeps, plots and the command line.
    """
    if not isinstance(method, Method):
        raise TypeError(f"register takes a Method, got {type(method).__name__}")
    if not method.name.isidentifier():
        raise ValueError(f"a method name must be an identifier, got {method.name!r}")
    if method.name in METHODS and not replace:
        raise ValueError(f"method {method.name!r} is already registered")
    if method.reference and any(m.reference for m in METHODS.values()
                                if m.name != method.name):
        raise ValueError("there is one reference method (scratch); "
                         f"{method.name!r} cannot be another")
    METHODS[method.name] = method
    COMPILED.clear()
    return method


def unregister(name: str) -> Method:
    """Remove the method ``name`` from the registry; returns it."""
    if name not in METHODS:
        raise ValueError(f"method {name!r} is not registered")
    if METHODS[name].reference:
        raise ValueError(f"{name!r} is the reference method; it cannot be removed")
    COMPILED.clear()
    return METHODS.pop(name)


def names() -> tuple[str, ...]:
    """The registered method names, in order."""
    return tuple(METHODS)


def all_methods() -> tuple[Method, ...]:
    """The registered methods, in order."""
    return tuple(METHODS.values())


def unknown_method(value: object, what: str = "method") -> ValueError:
    """The error for a name that is not a registered method, with a suggestion."""
    allowed = names()
    close = (difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
             if isinstance(value, str) else [])
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"{what} must be one of {allowed}, got {value!r}{hint}")


def get(name: object) -> Method:
    """The registered method called ``name`` (a :class:`Method` is returned as it is);
    ValueError naming the registered methods (and the closest one) otherwise."""
    if isinstance(name, Method):
        return name
    if isinstance(name, str) and name in METHODS:
        return METHODS[name]
    raise unknown_method(name)


def reference() -> Method:
    """The method transferability is measured against (scratch training)."""
    for method in METHODS.values():
        if method.reference:
            return method
    raise RuntimeError("no reference method is registered")


def pretrained() -> tuple[Method, ...]:
    """The registered methods that start from pretrained weights."""
    return tuple(m for m in METHODS.values() if m.pretrains)


def with_boundary() -> tuple[Method, ...]:
    """The registered methods that have a phase boundary theta*."""
    return tuple(m for m in METHODS.values() if m.boundary_expr is not None)

"""Components defined in notebook cells: their code, captured as a module's source.

A kernel compiles each cell under a file name that does not exist on disk (ipykernel's
``/tmp/ipykernel_NNN/HASH.py``, IPython's ``<ipython-input-N-HASH>``); the cell's text
lives only in :mod:`linecache`. A task process cannot import such a file, so the
compiler puts the component's code into the spec as the source of a module of its own
(``PythonImplementation.source``), which the task process builds instead of importing
a file. The pipeline version stores the spec, so the run keeps the code it ran with,
and resuming the run later needs no kernel.

The captured module holds the component's definition and what it uses of the
notebook's namespace, rebuilt name by name rather than by re-running cells (which may
train a model or run a pipeline): functions and classes from their cells' text,
modules and objects of importable modules as imports, and plain constants as literals.
A value that cannot be rebuilt so (a DataFrame computed in a cell, an open connection)
is refused at compile time with an error that names it.
"""

from __future__ import annotations

import ast
import builtins
import dis
import hashlib
import inspect
import linecache
import os
import sys
import textwrap
import types
from typing import Any

from headwater.errors import ComponentDefinitionError, Location
from headwater.sdk import _location

_LITERAL_LIMIT = 100_000  # characters of a constant's literal; more belongs in an artifact
_LOADS = {"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS"}


def in_cell(func: Any) -> bool:
    """Whether ``func`` was defined in a notebook cell (or another interactive input):
    its file is not on disk, but its text is in :mod:`linecache`."""
    code = getattr(func, "__code__", None)
    if code is None or getattr(func, "__module__", None) != "__main__":
        return False
    filename = code.co_filename
    return filename in linecache.cache and not os.path.isfile(filename)


def _cell_order() -> dict[str, int]:
    """Cell file name -> execution count, from the running IPython (if any)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    names = getattr(getattr(shell, "compile", None), "_filename_map", None)
    return dict(names) if isinstance(names, dict) else {}


def where(func: Any) -> Location:
    """The location of a function for errors: its cell (``In [3]``) when the running
    IPython numbered it, else its file."""
    code = func.__code__
    number = _cell_order().get(code.co_filename)
    if number is None:
        return _location.loc(_location.of_function(func))
    return Location(file=f"In [{number}]", line=code.co_firstlineno)


def _cell_text(filename: str) -> str | None:
    entry = linecache.cache.get(filename)
    if entry is None or len(entry) != 4:
        return None
    return "".join(entry[2])


def _class_in(text: str, name: str, line: int | None) -> str | None:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    lines = text.splitlines(keepends=True)
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name == name):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        last = node.end_lineno or node.lineno
        if line is None or first <= line <= last:
            return "".join(lines[first - 1 : last])
    return None


def class_source(cls: type) -> str | None:
    """The source of a class defined in a notebook cell (``inspect`` cannot find it: the
    ``__main__`` module of a kernel has no file). The cell is the one its methods were
    compiled in, or else the latest cell that defines a class of that name."""
    if getattr(cls, "__module__", None) != "__main__":
        return None
    for value in vars(cls).values():
        func = value.__func__ if isinstance(value, classmethod | staticmethod) else value
        func = getattr(func, "fget", func)
        code = getattr(func, "__code__", None)
        if code is None or code.co_filename not in linecache.cache:
            continue
        text = _cell_text(code.co_filename)
        found = _class_in(text, cls.__name__, code.co_firstlineno) if text else None
        if found is not None:
            return found
    order = _cell_order()
    cells = sorted(order, key=order.__getitem__, reverse=True) or [
        f for f in list(linecache.cache) if not os.path.isfile(f)
    ]
    for filename in cells:
        text = _cell_text(filename)
        found = _class_in(text, cls.__name__, None) if text else None
        if found is not None:
            return found
    return None


def source_of(obj: Any) -> str | None:
    """The dedented source of a function or class, also for those defined in cells."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        pass
    if isinstance(obj, type):
        text = class_source(obj)
        return textwrap.dedent(text) if text is not None else None
    return None


def _loaded_names(code: types.CodeType) -> set[str]:
    """Global names ``code`` (and the code nested in it) reads, but not those a class
    body or the module itself binds first."""
    found: set[str] = set()
    stored: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opname in _LOADS and isinstance(ins.argval, str):
            if ins.opname != "LOAD_NAME" or ins.argval not in stored:
                found.add(ins.argval)
        elif ins.opname == "STORE_NAME":
            stored.add(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _loaded_names(const)
    return found


def _literal(value: Any) -> str | None:
    """``value`` as a Python literal that evaluates back to an equal value, or None."""
    plain = (bool, int, float, complex, str, bytes, type(None))

    def ok(v: Any) -> bool:
        if isinstance(v, plain):
            return True
        if isinstance(v, list | tuple | set):
            return type(v) in (list, tuple, set) and all(ok(x) for x in v)
        if isinstance(v, dict):
            return type(v) is dict and all(ok(k) and ok(x) for k, x in v.items())
        return False

    if not ok(value):
        return None
    text = repr(value)
    if len(text) > _LITERAL_LIMIT:
        return None
    try:
        if ast.literal_eval(text) != value:
            return None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return text


def _import_line(name: str, value: Any) -> str | None:
    """An import statement that binds ``name`` to ``value``, or None."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if module == "__main__" or sys.modules.get(module) is not value:
            return None
        return f"import {module}" if module == name else f"import {module} as {name}"
    owner = getattr(value, "__module__", None)
    if not isinstance(owner, str) or owner == "__main__":
        return None
    parts = owner.split(".")
    for i in range(1, len(parts) + 1):  # the shortest (most public) module that has it
        path = ".".join(parts[:i])
        found = sys.modules.get(path)
        if found is None:
            continue
        names = vars(found)
        attr = name if names.get(name) is value else None
        if attr is None:
            attr = next((k for k, v in names.items() if v is value and not k.startswith("_")), None)
        if attr is not None:
            return f"from {path} import {attr}" + (f" as {name}" if attr != name else "")
    return None


class _Capture:
    """The module source for one component: imports, constants, then definitions in an
    order where each follows what its definition (decorators, defaults, bases) uses."""

    def __init__(self, component: str, func: Any) -> None:
        self.component = component
        self.func = func
        self.namespace: dict[str, Any] = func.__globals__
        self.imports: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.definitions: list[str] = []
        self.seen: set[str] = set()
        # A cell run under 'from __future__ import annotations' (which IPython keeps for
        # the cells after it) leaves its annotations as text: the captured module does too.
        self.future_annotations = _future_annotations(func)

    def error(self, name: str, why: str, hint: str) -> ComponentDefinitionError:
        return ComponentDefinitionError(
            f"component '{self.component}' uses '{name}' from the notebook, {why}; a task "
            "process runs the component from its captured code, so it cannot have it",
            location=where(self.func),
            hint=hint,
        )

    def definition(self, name: str, obj: Any) -> None:
        source = source_of(obj)
        if source is None:
            raise self.error(
                name,
                "whose source cannot be found",
                f"define '{name}' with 'def' or 'class' in a cell, or move it into a "
                "module next to the notebook and import it from there",
            )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            tree = None
        stmt = tree.body[0] if tree is not None and len(tree.body) == 1 else None
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound = stmt.name
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            bound = stmt.targets[0].id
        else:
            raise self.error(
                name,
                "whose definition is not a statement of its own",
                f"define '{name}' with 'def' on lines of its own",
            )
        self.seen.add(bound)
        if _future_annotations(obj):
            self.future_annotations = True
        code = compile(source, "<captured>", "exec", dont_inherit=True)
        for used in sorted(_loaded_names(code) - {bound}):
            self.visit(used)
        self.definitions.append(source.rstrip() + "\n")
        if bound != name:
            self.definitions.append(f"{name} = {bound}\n")

    def visit(self, name: str) -> None:
        if name in self.seen or name not in self.namespace:
            return  # a builtin, or a name the code defines itself
        self.seen.add(name)
        value = self.namespace[name]
        inner = getattr(value, "python_func", None)
        target = inner if inner is not None and not isinstance(value, type) else value
        if isinstance(value, types.ModuleType) or getattr(target, "__module__", None) != "__main__":
            line = _import_line(name, value)
            if line is not None:
                self.imports[name] = line
                return
            if name in vars(builtins):
                return  # the kernel's stand-in for a builtin (IPython's open): the builtin
        elif isinstance(target, types.FunctionType | type):
            self.definition(name, target)
            return
        text = _literal(value)
        if text is not None:
            self.constants[name] = f"{name} = {text}\n"
            return
        owner = getattr(value, "__module__", None)
        made = "made by running a cell"
        callable_ = isinstance(value, types.FunctionType | types.BuiltinFunctionType | type)
        if callable_ and isinstance(owner, str) and owner != "__main__":
            made = f"that no import of module '{owner}' gives"
        raise self.error(
            name,
            f"a {type(value).__name__} {made}",
            "pass it to the component as a parameter or an artifact, or build it inside "
            "the component (or in a function that the component calls)",
        )

    def module(self) -> str:
        parts = [
            f"# The code of component '{self.component}', captured by Headwater from "
            "notebook cells.\n"
            + ("from __future__ import annotations\n" if self.future_annotations else ""),
            "".join(sorted(self.imports[n] + "\n" for n in self.imports)),
            "".join(self.constants[n] for n in sorted(self.constants)),
            "\n\n".join(self.definitions),
        ]
        return "\n\n".join(p for p in parts if p)


def _future_annotations(obj: Any) -> bool:
    """Whether ``obj`` (a function, or a class's methods) was compiled under
    ``from __future__ import annotations``."""
    import __future__

    flag = __future__.annotations.compiler_flag
    code = getattr(obj, "__code__", None)
    if code is not None:
        return bool(code.co_flags & flag)
    if isinstance(obj, type):
        return any(
            bool(getattr(v, "__code__", None) and v.__code__.co_flags & flag)
            for v in vars(obj).values()
        )
    return False


def capture(component: Any) -> tuple[str, str]:
    """``(module name, module source)`` of a component defined in a notebook cell.

    The name is content-addressed: the same code is always the same module."""
    func = component.python_func
    cap = _Capture(component.name, func)
    if cap.namespace.get(func.__name__) is not component:
        raise ComponentDefinitionError(
            f"component '{component.name}' is not the notebook's '{func.__name__}' any more, "
            "so its code cannot be captured from the notebook",
            location=where(func),
            hint=f"put @component on 'def {func.__name__}' in a cell and run that cell again",
        )
    cap.visit(func.__name__)
    text = cap.module()
    name = "headwater_cells_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return name[:32], text

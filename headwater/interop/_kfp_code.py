"""The code of a Kubeflow lightweight Python component, made from a Headwater component.

Kubeflow runs a lightweight component by writing one Python module into the container
and calling ``python3 -m kfp.dsl.executor_main`` on it, which imports the module, reads
the executor input and calls the named function with Kubeflow's own artifact objects.
That module is made here from the component's function and what it needs of its own
module (the same closure as the code digest covers, docs/adr/0003):

- the module starts the way Kubeflow's do (``from kfp.dsl import *``, ``from typing
  import *``), so Headwater's ``Input``, ``Output``, ``Dataset``, ``Model``, ``Metrics``,
  ... are Kubeflow's classes of the same name;
- the functions and classes of the same module it uses, with their own source; the
  constants (numbers, strings, lists and dicts of those) and module imports it reads;
- the function itself, its decorator dropped and its signature rewritten from the spec
  with the annotations Kubeflow's executor understands (``Input[List[Model]]``,
  ``PipelineTaskFinalStatus``, a ``NamedTuple`` of plain types); the body is unchanged,
  except for a line at its top per ``FinalStatus`` input (Kubeflow's status becomes
  Headwater's), ``Metrics`` output (``log_metric`` takes Headwater's ``step``) and list or
  dict of ints (:mod:`._kfp_shims`), and ``from headwater import Dataset``-style imports
  in it, which import Kubeflow's names.

What cannot be carried into such a module (another project module, a Headwater object
other than the artifact types, a module-level value that is not plain data) is a
problem for :class:`~headwater.errors.ExportError`.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater.errors import Location
from headwater.interop._kfp_ir import KFP_ARTIFACTS, Findings
from headwater.interop._kfp_shims import (
    ENGINE_ENV,
    FINAL_STATUS,
    HEAD,
    INTS,
    METRICS,
    int_shape,
)
from headwater.interop._kfp_source import (
    Edit,
    apply_edits,
    ast_names,
    classes_in,
    global_reads,
    header_span,
    is_literal,
    module_file,
    parse_def,
    plain_header,
)
from headwater.spec import ComponentSpec, IOSpec, ParamType, PythonImplementation

# --------------------------------------------------------------------------- finding code


def load_function(impl: PythonImplementation, root: str) -> Any:
    """The object named by ``impl``: from the module already imported, else from its file
    (relative to ``root``, the folder the spec was compiled from)."""
    path = Path(impl.file)
    path = path if path.is_absolute() else Path(root) / path
    module = sys.modules.get(impl.module)
    loaded = getattr(module, "__file__", None)
    if module is None or (
        "." not in impl.module and loaded and Path(loaded).resolve() != path.resolve()
    ):
        from headwater.sdk import load_module

        module = load_module(path)  # a module of that name from elsewhere: LoadError
    obj: Any = module
    for part in impl.function.split("."):
        obj = getattr(obj, part)
    return obj


def _is_component(obj: Any) -> bool:
    from headwater.sdk import Component

    return isinstance(obj, Component)


def _headwater_names() -> dict[int, str]:
    """Headwater objects that have a Kubeflow counterpart of the same name, by id."""
    import headwater.sdk as sdk

    names = {id(getattr(sdk, n)): n for n in (*KFP_ARTIFACTS, "Input", "Output")}
    names[id(sdk.FinalStatus)] = "FinalStatus"
    return names


# --------------------------------------------------------------------------- the module


class ComponentModule:
    """The module text of one component: built with :meth:`build`; ``problems`` and notes
    go to the shared :class:`Findings`."""

    def __init__(
        self,
        func: Callable[..., Any],
        comp: ComponentSpec,
        impl: PythonImplementation,
        *,
        pipeline: str,
        where: Location,
        findings: Findings,
        root: str,
        packages: list[str],
        image: str | None,
        artifact_bases: dict[str, str],
    ) -> None:
        self.func = func
        self.comp = comp
        self.impl = impl
        self.pipeline = pipeline
        self.where = where
        self.findings = findings
        self.root = os.path.abspath(root)
        self.packages = packages
        self.image = image
        self.artifact_bases = artifact_bases
        self.module = func.__module__
        self.globals: dict[str, Any] = getattr(func, "__globals__", {})
        self.imports: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.defs: dict[str, tuple[int, str]] = {}
        self.aliases: dict[str, str] = {}
        self.extra_classes: dict[str, str] = {}
        self.final_status = False
        self.metrics = False
        self.ints = False
        self.third_party: set[str] = set()
        self._seen: set[str] = set()
        self._hw = _headwater_names()

    # ------------------------------------------------------------------ problems

    def _problem(self, message: str, hint: str) -> None:
        self.findings.problem(f"component '{self.comp.name}' {message}", self.where, hint)

    # ------------------------------------------------------------------ module globals

    def _need(self, name: str) -> None:
        """Bring the module global ``name`` into the component's module."""
        if name in self._seen:
            return
        self._seen.add(name)
        if name not in self.globals:
            return  # a builtin, or a name the function never really reads
        value = self.globals[name]
        if id(value) in self._hw:
            target = self._hw[id(value)]
            if target == "FinalStatus":
                self.final_status = True
            if name != target:
                self.aliases[name] = target
            return
        if _is_component(value):
            if value.python_func.__module__ == self.module:
                self._define(name, value.python_func, also=f"{name}.python_func = {name}\n")
                return
            self._problem(
                f"uses the component '{name}' of module {value.python_func.__module__}",
                "call only functions of its own module or of installed libraries; move the "
                "shared code into a plain function",
            )
            return
        module_name = (
            getattr(value, "__module__", None) if not isinstance(value, types.ModuleType) else None
        )
        if isinstance(value, types.ModuleType):
            self._import_module(name, value)
            return
        if isinstance(module_name, str) and module_name.split(".")[0] == "headwater":
            self._problem(
                f"uses '{name}' from Headwater ({module_name}), which a Kubeflow component "
                "cannot import",
                "use only Headwater's artifact types (Dataset, Model, Metrics, ...), Input, "
                "Output and FinalStatus inside components",
            )
            return
        if isinstance(value, types.FunctionType | type):
            if module_name == self.module:
                self._define(name, value)
                return
            self._import_object(name, value, module_name)
            return
        if is_literal(value):
            self.constants[name] = f"{name} = {value!r}\n"
            return
        if (
            isinstance(module_name, str)
            and getattr(sys.modules.get(module_name), name, None) is value
        ):
            self._import_object(name, value, module_name)
            return
        self._problem(
            f"reads the module-level value '{name}' ({type(value).__name__}), which cannot be "
            "written into a Kubeflow component",
            "make it a plain constant (numbers, strings, lists or dicts of those), or create "
            "it inside the function",
        )

    def _classify(self, top: str) -> str:
        """``stdlib``, ``kfp``, ``headwater``, ``project`` (a module beside the pipeline)
        or ``library`` (installed)."""
        if top in sys.stdlib_module_names or top in ("__future__",):
            return "stdlib"
        if top in ("kfp", "headwater"):
            return top
        file = module_file(top)
        if file:
            real = os.path.abspath(file)
            installed = any(p in real.split(os.sep) for p in ("site-packages", "dist-packages"))
            if not installed and real.startswith(self.root + os.sep):
                return "project"
        return "library"

    def _check_module(self, full: str) -> bool:
        """Whether the module ``full`` can be imported in the component; a problem if not."""
        top = full.split(".")[0]
        kind = self._classify(top)
        if kind == "headwater":
            self._problem(
                f"imports {full}, which a Kubeflow component cannot import",
                "inside components use only Headwater's artifact types, Input, Output and "
                "FinalStatus (from headwater import Dataset, ...), which become Kubeflow's",
            )
            return False
        if kind == "project" and not self.image and not self._packaged(top):
            self._problem(
                f"imports the project module '{top}' ({self.root}), which is not part of the "
                "component's code on Kubeflow",
                f"put '{top}' into an image and set image=..., or publish it and list it in "
                "packages=...; or move what the component needs into the pipeline's file",
            )
            return False
        if kind == "library" and not self.image and not self._packaged(top):
            self.third_party.add(top)
        return True

    def _packaged(self, top: str) -> bool:
        from headwater.sdk import requirement_name

        def norm(text: str) -> str:
            return text.lower().replace("-", "_").replace(".", "_")

        for req in self.packages:
            try:
                name = requirement_name(req)
            except Exception:  # a malformed requirement is the environment's problem
                continue
            if norm(name) == norm(top):
                return True
        return False

    def _import_module(self, name: str, module: types.ModuleType) -> None:
        full = module.__name__
        if not self._check_module(full):
            return
        if name == full or ("." in full and full.split(".")[0] == name):
            self.imports[name] = f"import {full}\n"
        else:
            self.imports[name] = f"import {full} as {name}\n"

    def _import_object(self, name: str, value: Any, module_name: str | None) -> None:
        attr = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or name
        if "." in attr or "<" in attr:
            attr = name
        source = sys.modules.get(module_name or "")
        if not module_name or getattr(source, attr, None) is not value:
            self._problem(
                f"uses '{name}', which cannot be imported by name from module {module_name}",
                "import it inside the function, or use a function or class that its module "
                "exposes at top level",
            )
            return
        if not self._check_module(module_name):
            return
        alias = "" if attr == name else f" as {name}"
        self.imports[name] = f"from {module_name} import {attr}{alias}\n"

    def _define(self, name: str, obj: Any, also: str = "") -> None:
        """Include the source of ``obj`` (a function or class of the same module)."""
        try:
            raw = inspect.getsource(obj)
            line = inspect.getsourcelines(obj)[1]
        except (OSError, TypeError):
            self._problem(
                f"uses '{name}', whose source cannot be read",
                "define it with 'def' or 'class' in the pipeline's file",
            )
            return
        source, node = parse_def(raw)
        names: list[str] = []
        edits = self._import_edits(node)
        if isinstance(node, ast.ClassDef):
            names.extend(ast_names([node]))
            text = apply_edits(source, edits)
        else:
            decorators = [d for d in node.decorator_list if not self._is_component_decorator(d)]
            names.extend(global_reads(obj.__code__))
            names.extend(ast_names([*decorators, *node.args.defaults]))
            names.extend(ast_names([d for d in node.args.kw_defaults if d is not None]))
            text = apply_edits(source, edits)
            _begin, end = header_span(text)
            head = "".join(f"@{ast.get_source_segment(source, d)}\n" for d in decorators)
            text = head + plain_header(node, source) + text[end:]
        if node.name != name:
            also = f"{name} = {node.name}\n" + also
        self.defs[name] = (line, text.rstrip("\n") + "\n" + also)
        for n in names:
            self._need(n)

    def _is_component_decorator(self, node: ast.expr) -> bool:
        target = node.func if isinstance(node, ast.Call) else node
        parts = []
        while isinstance(target, ast.Attribute):
            parts.append(target.attr)
            target = target.value
        if isinstance(target, ast.Name):
            parts.append(target.id)
        value = self.globals.get(parts[-1]) if parts else None
        from headwater.sdk import component

        if value is component:
            return True
        return isinstance(value, types.ModuleType) and value.__name__.startswith("headwater")

    def _import_edits(self, node: ast.AST) -> list[Edit]:
        """Rewrite ``from headwater import Dataset``-style imports in function bodies to
        Kubeflow's names; note the modules imported for the checks on them."""
        edits: list[Edit] = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                for alias in sub.names:
                    self._check_module(alias.name)
            elif isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                if sub.module.split(".")[0] != "headwater":
                    self._check_module(sub.module)
                    continue
                edits.append(self._headwater_import(sub))
        return edits

    def _headwater_import(self, node: ast.ImportFrom) -> Edit:
        kept: list[str] = []
        assigns: list[str] = []
        for alias in node.names:
            target = alias.asname or alias.name
            if alias.name in (*KFP_ARTIFACTS, "Input", "Output"):
                kept.append(alias.name + (f" as {alias.asname}" if alias.asname else ""))
            elif alias.name == "FinalStatus":
                self.final_status = True
                if target != "FinalStatus":
                    assigns.append(f"{target} = FinalStatus")
            else:
                self._problem(
                    f"imports '{alias.name}' from {node.module}, which a Kubeflow component "
                    "cannot import",
                    "inside components use only Headwater's artifact types, Input, Output "
                    "and FinalStatus",
                )
        statements = ([f"from kfp.dsl import {', '.join(kept)}"] if kept else []) + assigns
        text = "; ".join(statements) or "pass"
        assert node.end_lineno is not None and node.end_col_offset is not None
        return Edit((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset), text)

    # ------------------------------------------------------------------ the function

    def _annotation(self, io_spec: IOSpec, name: str) -> str | None:
        if io_spec.kind == "final_status":
            return "PipelineTaskFinalStatus"
        if io_spec.kind == "artifact":
            assert io_spec.artifact_type is not None
            cls = self._artifact_class(io_spec.artifact_type, name)
            if name in self.comp.outputs:
                return f"Output[{cls}]"
            inner = f"List[{cls}]" if io_spec.is_list else cls
            text = f"Input[{inner}]"
            return f"Optional[{text}]" if io_spec.has_default else text
        assert io_spec.type is not None
        return python_type(io_spec.type)

    def _artifact_class(self, schema_title: str, param: str) -> str:
        """The class an annotation names for artifacts of ``schema_title``."""
        if schema_title.startswith("headwater.") and schema_title[10:] in KFP_ARTIFACTS:
            return schema_title[10:]
        # A user's own artifact type: its class if the module defines it, else one made here.
        hints = getattr(self.func, "__annotations__", {})
        try:
            import typing

            hints = typing.get_type_hints(self.func)
        except Exception:
            pass
        ann = hints.get(param)
        for candidate in classes_in(ann):
            if getattr(candidate, "schema_title", None) == schema_title and (
                candidate.__module__ == self.module
                and self.globals.get(candidate.__name__) is candidate
            ):
                self._need(candidate.__name__)
                return str(candidate.__name__)
        base = self.artifact_bases.get(schema_title, "Artifact")
        cls = "".join(ch if ch.isalnum() else "_" for ch in schema_title.title())
        self.extra_classes[cls] = (
            f"class {cls}({base}):\n    schema_title = {schema_title!r}\n    "
            f"schema_version = '0.0.1'\n"
        )
        return cls

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        order = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
        ios = {**self.comp.inputs, **{n: o for n, o in self.comp.outputs.items() if n in order}}
        parts: list[tuple[str, bool]] = []
        for name in order:
            io_spec = ios.get(name)
            if io_spec is None:
                continue
            ann = self._annotation(io_spec, name)
            text = f"{name}: {ann}"
            has_default = io_spec.kind != "final_status" and io_spec.has_default
            if has_default:
                text += f" = {io_spec.default!r}"
            parts.append((text, has_default))
        # Keyword-only where a required input follows one with a default (Kubeflow's
        # executor passes every input by name).
        seen_default, needs_star = False, False
        for _, has_default in parts:
            if has_default:
                seen_default = True
            elif seen_default:
                needs_star = True
        params = ", ".join((["*"] if needs_star else []) + [p for p, _ in parts])
        returns = self._returns()
        ret = f" -> {returns}" if returns else ""
        prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        return f"{prefix} {self.impl.function}({params}){ret}:"

    def _returns(self) -> str | None:
        impl = self.impl
        if impl.returns == "none":
            return None
        fields = []
        for name in impl.return_outputs:
            io_spec = self.comp.outputs[name]
            assert io_spec.type is not None
            if io_spec.type.optional:
                self._problem(
                    f"returns {io_spec.type.describe()} as '{name}', and Kubeflow outputs "
                    "cannot be None",
                    "return a value of the type itself (an empty string, 0, [] ...)",
                )
            fields.append((name, python_type(io_spec.type.model_copy(update={"optional": False}))))
        if impl.returns == "single":
            return fields[0][1]
        listed = ", ".join(f"({n!r}, {t})" for n, t in fields)
        return f"NamedTuple('Outputs', [{listed}])"

    def _function(self) -> str:
        try:
            raw = inspect.getsource(self.func)
        except (OSError, TypeError):
            self._problem(
                "has no source that can be read",
                "define the component with 'def' in a Python file",
            )
            return ""
        source, node = parse_def(raw)
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        edits = self._import_edits(node)
        # Conversions put at the top of the body, after the docstring.
        first = node.body[0]
        is_doc = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        assert first.end_lineno is not None
        at = first.end_lineno + 1 if is_doc else first.lineno
        indent = " " * first.col_offset
        lines: list[str] = []
        for name, io_spec in self.comp.inputs.items():
            if io_spec.kind == "final_status":
                self.final_status = True
                lines.append(f"{name} = _headwater_final_status({name}, {self.pipeline!r})")
            shape = int_shape(io_spec.type)
            if shape is not None and shape != "int":
                self.ints = True
                lines.append(f"{name} = _headwater_ints({name}, {shape!r})")
        for name, io_spec in self.comp.outputs.items():
            if io_spec.kind == "artifact" and io_spec.artifact_type in (
                "headwater.Metrics",
                "headwater.ClassificationMetrics",
            ):
                self.metrics = True
                lines.append(f"{name} = _headwater_metrics({name})")
        if lines:
            text = "".join(f"{indent}{line}\n" for line in lines)
            edits.append(Edit((at, 0), (at, 0), text))
        body = apply_edits(source, edits)
        _begin, end = header_span(body)
        for n in global_reads(self.func.__code__):
            self._need(n)
        return self._signature(node) + body[end:]

    def build(self) -> str:
        """The module text, or ``""`` if a problem was found."""
        before = len(self.findings.problems)
        function = self._function()
        if len(self.findings.problems) != before:
            return ""
        if self.third_party:
            self.findings.note(
                f"component '{self.comp.name}' imports {', '.join(sorted(self.third_party))} "
                "and sets neither packages nor image: the base image must provide them"
            )
        read = [
            v for v in ENGINE_ENV if v in function or any(v in t for _, t in self.defs.values())
        ]
        if read:
            self.findings.note(
                f"component '{self.comp.name}' reads {', '.join(read)}, which Headwater sets "
                "in each task and Kubeflow does not"
            )
        parts = [HEAD]
        if self.imports:
            parts.append("\n" + "".join(self.imports[k] for k in sorted(self.imports)))
        if self.constants:
            parts.append("\n" + "".join(self.constants[k] for k in sorted(self.constants)))
        if self.final_status:
            parts.append(FINAL_STATUS)
        if self.metrics:
            parts.append(METRICS)
        if self.ints:
            parts.append(INTS)
        for text in self.extra_classes.values():
            parts.append("\n\n" + text)
        for _, text in sorted(self.defs.values()):
            parts.append("\n\n" + text)
        if self.aliases:
            parts.append("\n" + "".join(f"{a} = {t}\n" for a, t in sorted(self.aliases.items())))
        parts.append("\n\n" + function.rstrip("\n") + "\n")
        return "".join(parts)


_PYTHON_TYPES = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "list": "list",
    "dict": "dict",
}


def python_type(t: ParamType) -> str:
    """The annotation Kubeflow's executor reads for a parameter of type ``t``."""
    name = _PYTHON_TYPES.get(t.kind, "str")
    return f"Optional[{name}]" if t.optional else name


__all__ = ["KFP_ARTIFACTS", "ComponentModule", "Findings", "load_function", "python_type"]

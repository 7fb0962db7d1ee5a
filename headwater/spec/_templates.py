"""Templated task arguments (``headwater.Template``) in a spec: finding them, and checking
that each one parses.

A template is only parsed here, never rendered: rendering runs the template, which the
engine does in a separate process with limits when a run is created
(:mod:`headwater.engine._templates`). Jinja is imported only when a spec has one.
"""

from __future__ import annotations

from collections.abc import Iterator

from headwater.spec._models import (
    ConditionGroup,
    DagImplementation,
    ExitHandlerGroup,
    LoopGroup,
    Node,
    PipelineSpec,
    TaskSpec,
    TemplateBinding,
)


def template_problem(text: str) -> str | None:
    """Why ``text`` is not a Jinja template (a syntax error, with its line), or None."""
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        SandboxedEnvironment().parse(text)
    except TemplateSyntaxError as exc:
        return f"{exc.message} (line {exc.lineno} of the template)"
    except RecursionError:
        return "it nests too deeply to be parsed"
    return None


def task_templates(spec: PipelineSpec) -> list[str]:
    """Every distinct template that a task of ``spec`` (nested pipelines included) is given,
    in the order they first appear. Templates depend only on the run, so each is rendered
    once per run however many tasks (or loop iterations) use it."""
    return list(dict.fromkeys(b.template for _, _, b in _template_bindings(spec)))


def template_users(spec: PipelineSpec, text: str) -> Iterator[tuple[str, str]]:
    """``(task, input)`` for each task input of ``spec`` given the template ``text``."""
    for task, name, binding in _template_bindings(spec):
        if binding.template == text:
            yield task, name


def _template_bindings(spec: PipelineSpec) -> Iterator[tuple[str, str, TemplateBinding]]:
    dags = [spec.dag.nodes]
    dags += [
        c.implementation.dag.nodes
        for c in spec.components.values()
        if isinstance(c.implementation, DagImplementation)
    ]
    for nodes in dags:
        for task in _tasks(nodes):
            for name, binding in task.inputs.items():
                if isinstance(binding, TemplateBinding):
                    yield task.name, name, binding


def _tasks(nodes: list[Node]) -> Iterator[TaskSpec]:
    for node in nodes:
        if isinstance(node, TaskSpec):
            yield node
        elif isinstance(node, ConditionGroup):
            for branch in node.branches:
                yield from _tasks(branch.nodes)
        elif isinstance(node, LoopGroup):
            yield from _tasks(node.nodes)
        elif isinstance(node, ExitHandlerGroup):
            yield node.exit_task
            yield from _tasks(node.nodes)

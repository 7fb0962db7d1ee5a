"""Requirement lines a step's environment may ask for, and reading a requirements file.

A step's requirements name packages on the package index (``pandas>=2``,
``scikit-learn==1.5.2``, ``torch[cuda]; sys_platform == 'linux'``) or a remote direct
URL (``pkg @ https://...``). Lines that point at this machine (local paths, editable
installs) or change where packages come from (``--index-url``) are refused: the same
step must build the same environment on any machine that runs it. The index is the
engine's concern (``UV_INDEX_URL`` in its environment).
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_LOCAL = re.compile(r"^(?:\.{1,2}[/\\]|[/\\~]|[A-Za-z]:[/\\])")


# Longer than any real requirement line (a name, extras, markers and a URL).
MAX_REQUIREMENT_CHARS = 1000


def requirement_name(line: str) -> str:
    """The package name a requirement line starts with, normalised (``scikit_learn`` ->
    ``scikit-learn``); empty if it starts with none."""
    m = _NAME.match(line.strip())
    return re.sub(r"[-_.]+", "-", m.group(0)).lower() if m else ""


def requirement_problem(line: str) -> str | None:
    """Why ``line`` cannot be one of a step's requirements, or None."""
    text = line.strip()
    if not text:
        return "is empty"
    if len(text) > MAX_REQUIREMENT_CHARS:
        return (
            f"is {len(text):,} characters long; a requirement is at most {MAX_REQUIREMENT_CHARS:,}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    if not text.isprintable():
        return "holds control characters (a line break?); give one requirement per entry"
    if text.startswith("-"):
        option = text.split()[0].split("=")[0]
        if option in ("-e", "--editable"):
            return "is an editable install, which points at a folder on this machine"
        if option in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
            return (
                f"sets {option}; where packages come from is the engine's setting "
                "(UV_INDEX_URL in its environment), not a step's"
            )
        if option in ("-r", "--requirement", "-c", "--constraint"):
            return f"includes another file ({option}); list its requirements here instead"
        return f"is an installer option ({option}), not a requirement"
    if any(word.startswith("-") for word in text.split()[1:]):
        return "carries installer options (such as --hash); list the requirement alone"
    if _LOCAL.match(text) or "file:" in text.lower():
        return "is a local path, which exists only on this machine"
    _, at, url = text.partition("@")
    if at and not re.match(r"^\s*[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        return "is a direct reference that is not a URL (a local path?)"
    if not _NAME.match(text):
        return "is not a requirement: it should start with a package name"
    return None


def parse_requirements_text(text: str) -> list[tuple[int, str]]:
    """The requirement lines of a requirements file, with their line numbers: comments
    and blank lines dropped, continued lines (ending in ``\\``) joined."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = "" if raw.lstrip().startswith("#") else re.split(r"\s#", raw, maxsplit=1)[0]
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append((start, " ".join(line.split())))
    if pending.strip():
        out.append((start, " ".join(pending.split())))
    return out

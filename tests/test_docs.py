"""The README and the code's own docstrings and comments stay true.

- every `cem ...` command and option the README shows exists in the Typer CLI;
- every CEM_* variable the README names is a setting (a field of a pydantic-settings class in cem) or is read by name
  (`os.environ.get("CEM_...")` in src/cem or tests/conftest.py, or a shell script under scripts/), and the README
  documents every setting and every variable src/cem reads;
- the README's table of error codes lists exactly the codes the API can answer with, each with its status;
- every dotted `cem.x.y` / `benchmarks.x` reference and every file path (`text/enrich.py`, `src/cem/config.py`, ...) in
  the README and in docstrings and comments under src/cem names a module, attribute or file that exists.

Each failure names the stale reference and where it is (file and line), so a move that leaves one behind says which.
"""

from __future__ import annotations

import ast
import importlib
import io
import pkgutil
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import typer
from pydantic_settings import BaseSettings

import cem
from cem.api.errors import HTTP_CODES
from cem.cli import app as cli_app
from cem.errors import CEMError

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "cem"
README = REPO / "README.md"


@dataclass(frozen=True)
class Mention:
    """A piece of documentation text and where it is."""

    where: str  # "README.md:42" or "src/cem/jobs/queue.py:9"
    text: str
    origin: Path  # the file it is in (relative paths may be relative to its folder)


# -- collecting the texts ----------------------------------------------------------------------------------------


def _readme_lines() -> list[str]:
    return README.read_text(encoding="utf-8").splitlines()


def _readme_code() -> Iterator[Mention]:
    """Inline code spans and fenced lines of the README, with markdown table escapes (`\\|`) undone."""
    fenced = False
    for number, line in enumerate(_readme_lines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        spans = [line.split("#")[0]] if fenced else re.findall(r"`([^`]+)`", line)
        for span in spans:
            yield Mention(f"README.md:{number}", span.replace("\\|", "|").strip(), README)


def _source_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.relative_to(SRC).parts)


def _docstrings_and_comments(path: Path) -> Iterator[Mention]:
    source = path.read_text(encoding="utf-8")
    where = path.relative_to(REPO)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield Mention(f"{where}:{token.start[0]}", token.string, path)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                # Per line, so a failure points at the line that names the stale reference.
                first = node.body[0].lineno
                for offset, line in enumerate(doc.splitlines()):
                    yield Mention(f"{where}:{first + offset}", line, path)


def _code_documentation() -> Iterator[Mention]:
    for path in _source_files():
        yield from _docstrings_and_comments(path)


@cache
def _every_cem_module() -> tuple[str, ...]:
    """Import every module of cem (migrations aside), so every settings class and error class is defined."""
    names = tuple(m.name for m in pkgutil.walk_packages(cem.__path__, "cem.") if ".migrations" not in m.name)
    for name in names:
        importlib.import_module(name)
    return names


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


# -- commands ------------------------------------------------------------------------------------------------------

COMMAND_WORD = re.compile(r"^[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*$")
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")


def _options(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts, param.secondary_opts)
    return names


def _command_problems(shown: str, where: str) -> list[str]:
    """What in `shown` (e.g. `cem jobs list|show --limit N`) the CLI does not have."""
    words = shown.split()[1:]
    commands: list[tuple[str, Any]] = [("cem", typer.main.get_command(cli_app))]
    while words and all(hasattr(command, "commands") for _, command in commands):
        if not COMMAND_WORD.match(words[0]):
            break  # an argument placeholder (FILE, METRIC) after a command that takes one
        found = []
        for name in words.pop(0).split("|"):
            for path, group in commands:
                if name not in group.commands:
                    known = ", ".join(sorted(group.commands))
                    return [f"{where}: `{shown}`: `{path}` has no command `{name}` (it has: {known})"]
                found.append((f"{path} {name}", group.commands[name]))
        commands = found
    problems = []
    for option in OPTION.findall(" ".join(words)):
        if not any(option in _options(command) for _, command in commands):
            paths = " / ".join(path for path, _ in commands)
            problems.append(f"{where}: `{shown}`: `{paths}` has no option `{option}`")
    return problems


def test_every_command_and_option_the_readme_shows_exists() -> None:
    shown = [m for m in _readme_code() if re.match(r"cem\s", m.text)]
    assert len(shown) > 20  # the README's command table and text were read
    problems = [p for m in shown for p in _command_problems(m.text, m.where)]
    assert not problems, "README commands the CLI does not have:\n" + "\n".join(problems)


# -- settings ------------------------------------------------------------------------------------------------------

VARIABLE = re.compile(r"\bCEM_[A-Z0-9_]*[A-Z0-9]\b")


def _settings() -> dict[str, str]:
    """CEM_* variable -> the settings field it sets (`cem.config.Settings.port`)."""
    _every_cem_module()
    found = {}
    for cls in _subclasses(BaseSettings):
        if cls.__module__.startswith("cem."):
            prefix = str(cls.model_config.get("env_prefix", ""))
            for field in cls.model_fields:
                found[(prefix + field).upper()] = f"{cls.__module__}.{cls.__qualname__}.{field}"
    return found


def _variables_read(path: Path) -> set[str]:
    """CEM_* names read straight from the environment (`os.environ.get(...)`, `os.getenv(...)`, `os.environ[...]`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if node.func.attr in ("get", "getenv"):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and VARIABLE.fullmatch(key.value):
            names.add(key.value)
    return names


def _read_by_cem() -> dict[str, str]:
    return {name: str(path.relative_to(REPO)) for path in _source_files() for name in _variables_read(path)}


def _read_by_tooling() -> set[str]:
    scripts = {name for path in (REPO / "scripts").glob("*.sh") for name in VARIABLE.findall(path.read_text())}
    return scripts | _variables_read(REPO / "tests" / "conftest.py")


def test_every_variable_the_readme_names_exists() -> None:
    known = set(_settings()) | set(_read_by_cem()) | _read_by_tooling()
    problems = [
        f"README.md:{number}: {name} is no field of a settings class in cem (cem.config.Settings, ...) "
        "and nothing reads it from the environment"
        for number, line in enumerate(_readme_lines(), start=1)
        for name in VARIABLE.findall(line)
        if name not in known
    ]
    assert not problems, "\n".join(problems)


def test_the_readme_documents_every_setting() -> None:
    named = set(VARIABLE.findall(README.read_text(encoding="utf-8")))
    settings = _settings()
    assert "CEM_SECRET_KEY" in settings and "CEM_ANALYTICS_ENGINE" in settings  # both settings classes were found
    missing = [f"{name} (the setting {field})" for name, field in settings.items() if name not in named]
    missing += [f"{name} (read in {path})" for name, path in _read_by_cem().items() if name not in named]
    assert not missing, "README.md does not document:\n" + "\n".join(sorted(missing))


# -- error codes ---------------------------------------------------------------------------------------------------

ERROR_TABLE_HEADER = "| error | status | when |"


def _error_codes() -> dict[str, set[int]]:
    """Every `error` code an API response can carry -> its statuses (empty: any status HTTP_CODES lacks)."""
    _every_cem_module()
    codes: dict[str, set[int]] = {}
    for cls in [CEMError, *_subclasses(CEMError)]:
        codes.setdefault(cls.code, set()).add(cls.status_code)
    for status, code in HTTP_CODES.items():
        codes.setdefault(code, set()).add(status)
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            if isinstance(node.func, ast.Name) and node.func.id == "error_body" and isinstance(args[0], str):
                status = args[2] if len(args) > 2 else None
                codes.setdefault(args[0], set()).update([status] if isinstance(status, int) else [])
            elif isinstance(node.func, ast.Attribute) and ast.unparse(node.func) == "HTTP_CODES.get":
                if len(args) > 1 and isinstance(args[1], str):  # the code of a status the table lacks
                    codes.setdefault(args[1], set())
    return codes


def _readme_error_table() -> dict[str, tuple[str, str]]:
    """code -> (its status cell, README line) from the table under ERROR_TABLE_HEADER."""
    lines = _readme_lines()
    assert ERROR_TABLE_HEADER in lines, f"README.md has no error-code table (a line `{ERROR_TABLE_HEADER}`)"
    start = lines.index(ERROR_TABLE_HEADER) + 2  # after the header and its |---| line
    table = {}
    for number, line in enumerate(lines[start:], start=start + 1):
        if not line.startswith("|"):
            break
        code, status = (cell.strip() for cell in line.strip("|").split("|")[:2])
        table[code.strip("`")] = (status, f"README.md:{number}")
    return table


def test_the_readme_lists_every_error_code_with_its_status() -> None:
    codes, table = _error_codes(), _readme_error_table()
    problems = [f"{where}: `{code}` is no error code of cem" for code, (_, where) in table.items() if code not in codes]
    problems += [f"README.md: the error table lacks `{code}`" for code in sorted(codes) if code not in table]
    for code, (status, where) in table.items():
        expected = ", ".join(str(s) for s in sorted(codes.get(code, ()))) or "other"
        if code in codes and status != expected:
            problems.append(f"{where}: `{code}` has status {status!r} in the README; the code says {expected!r}")
    assert not problems, "\n".join(problems)


# -- references to code and files ----------------------------------------------------------------------------------

DOTTED = re.compile(r"(?<![\w.@/-])(?:cem|benchmarks)(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.(?:py|sh)|(?:[\w-]+/)+)(?![\w/])")


def _module_file(parts: list[str]) -> Path | None:
    base = REPO.joinpath(*parts) if parts[0] == "benchmarks" else SRC.parent.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defined_names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update(((a.asname or a.name).split(".")[0], node) for a in node.names)
        elif isinstance(node, ast.If | ast.Try):  # definitions under `if TYPE_CHECKING:` or `try:`
            names.update(_defined_names(node.body))
    return names


def _dotted_problem(ref: str) -> str | None:
    """Why the dotted reference `ref` (cem.x.y.Name.attr) names nothing, or None."""
    parts = ref.split(".")
    for length in range(len(parts), 0, -1):
        module = _module_file(parts[:length])
        if module is not None:
            break
    else:
        return f"`{ref}`: no module `{parts[0]}` here"
    body = ast.parse(module.read_text(encoding="utf-8")).body
    owner = ".".join(parts[:length])
    for name in parts[length:]:
        names = _defined_names(body)
        if name not in names:
            if module.name == "__init__.py" and (module.parent / name).is_dir():
                return f"`{ref}`: `{owner}.{name}` is a folder without __init__.py"
            kind = "has no module and defines no" if module.name == "__init__.py" else "defines no"
            return f"`{ref}`: {owner} ({module.relative_to(REPO)}) {kind} `{name}`"
        node = names[name]
        if not isinstance(node, ast.ClassDef):
            return None  # an attribute of a function or value: not checked further
        body, owner = node.body, f"{owner}.{name}"
    return None


# The folder the test command writes its outputs to; README names what it will hold.
GENERATED = "artifacts"


def _path_problem(ref: str, origin: Path) -> str | None:
    """Why the file path `ref` resolves nowhere, or None. A path may be relative to the mentioning file's folder,
    to src/cem, to src or to the repository."""
    if ref.endswith("/") and ref.split("/")[0] not in _path_roots():
        return None  # a slash-separated phrase ("ser/estar/"), not a folder of the project
    if ref.startswith(GENERATED + "/"):
        return None  # written by the test command itself (logs, screenshots): absent until the tests that write it ran
    bases = [origin.parent, SRC, SRC.parent, REPO]
    if any((base / ref).exists() for base in bases):
        return None
    return f"`{ref}`: no such file or folder under {origin.parent.relative_to(REPO)}, src/cem, src or the repository"


@cache
def _path_roots() -> frozenset[str]:
    """The first folders a path into the project starts with: cem's packages and the repository's folders."""
    return frozenset(p.name for base in (SRC, REPO) for p in base.iterdir() if p.is_dir()) | {"cem"}


def _reference_problems(mentions: Iterator[Mention], *, bare_file_names: bool) -> list[str]:
    problems = []
    for mention in mentions:
        for ref in DOTTED.findall(mention.text):
            problem = _dotted_problem(ref)
            if problem:
                problems.append(f"{mention.where}: {problem}")
        for ref in PATH.findall(mention.text):
            if "/" not in ref and not bare_file_names:
                continue  # the README's `models.py`, `service.py`: the file vocabulary, not one file
            problem = _path_problem(ref, mention.origin)
            if problem:
                problems.append(f"{mention.where}: {problem}")
    return problems


def test_docstrings_and_comments_name_code_and_files_that_exist() -> None:
    problems = _reference_problems(_code_documentation(), bare_file_names=True)
    assert not problems, "Stale references in src/cem:\n" + "\n".join(problems)


def test_the_readme_names_modules_and_files_that_exist() -> None:
    problems = _reference_problems(_readme_code(), bare_file_names=False)
    assert not problems, "Stale references in README.md:\n" + "\n".join(problems)


def test_the_reference_checks_catch_stale_names(tmp_path: Path) -> None:
    """The checks above fail on what they are meant to catch (a moved module, a renamed function, a lost file)."""
    assert _dotted_problem("cem.responses.hosted") is None
    assert _dotted_problem("cem.errors.error_body") is None
    assert _dotted_problem("cem.errors.TooManyRequests.headers") is None
    assert "defines no `hosted`" in str(_dotted_problem("cem.surveys.hosted"))
    assert "defines no `write_rows`" in str(_dotted_problem("cem.errors.write_rows"))
    assert "defines no `nothing`" in str(_dotted_problem("cem.errors.CEMError.nothing"))
    source = SRC / "jobs" / "queue.py"
    assert _path_problem("worker.py", source) is None  # beside the file
    assert _path_problem("privacy/registry.py", source) is None  # under src/cem
    assert _path_problem("src/cem/config.py", source) is None and _path_problem("cem/config.py", source) is None
    assert "no such file" in str(_path_problem("surveys/importers/__init__.py", source))
    assert _path_problem("ser/estar/", source) is None
    assert _command_problems("cem jobs list|show --limit N", "here") == []
    assert _command_problems("cem jobs lists", "here") == [
        "here: `cem jobs lists`: `cem jobs` has no command `lists` (it has: list, retry, schedules, show)"
    ]
    assert _command_problems("cem privacy export|erase --yes", "here") == []  # on one of the two
    assert _command_problems("cem import FILE --nope", "here") == [
        "here: `cem import FILE --nope`: `cem import` has no option `--nope`"
    ]

"""The configuration reference (docs/configuration.md), generated from the config dataclasses.

Every key of `ganforge.config.Config` and its sections (`model.*`: ModelConfig, `opt_g.*` / `opt_d.*`:
OptimConfig, `diagnose.*`: DiagnoseConfig) becomes one table row: key | type | default | meaning. The
meaning is the field's own comment in config.py, read with tokenize, so the page cannot drift from the
code: tests/test_docs.py regenerates it and compares it with the committed file.

How comments attach to fields (config.py's layout):
  - the comment at the end of a field's line is its meaning, continued by comment-only lines right below
    it (`n_gen: int = 1  # ... the VEEGAN / PacGAN Stacked` / `# MNIST code ...`);
  - a field with no comment of its own takes the comment-only lines directly above it, when they follow a
    field line (OptimConfig's `schedule`);
  - comment-only lines ending with ':' lead into the next field's comment (ModelConfig's conditional nets);
  - any other comment block heads the fields below it (Config's "The algorithm", "Bookkeeping"): a
    section heading of the page.

    python -m ganforge.config_reference > docs/configuration.md
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import re
import tokenize
import typing

from . import config as config_mod
from .config import Config, DiagnoseConfig, ModelConfig, OptimConfig

REGENERATE = "python -m ganforge.config_reference > docs/configuration.md"
# Keys whose value is free-form: checked by the model's builder or the algorithm's Params, not here.
FREE_FORM = {
    "model.g": "checked when the networks are built; `ganforge models` lists each family's options",
    "model.d": "as model.g",
    "algo": "docs/zoo.md names each paper's keys",
}


# Meanings for the few fields config.py leaves without a comment; a comment there, once written, wins.


@dataclasses.dataclass
class FieldDoc:
    name: str
    meaning: str
    section: str  # the heading comment above it in the class body ("" before any heading)


def _class_comments(cls: type) -> list[FieldDoc]:
    """The fields of dataclass `cls` in source order, with their meanings and section headings."""
    source = inspect.getsource(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[int, str] = {}  # line number -> comment text
    code_lines: set[int] = set()  # lines holding code (a docstring's lines included)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string[1:].strip()
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    out: list[FieldDoc] = []
    section, block = "", []  # block: the comment-only lines gathered since the last other line
    before = "other"  # the kind of line before the block: other | blank | field | commented-field
    for number, text in enumerate(source.splitlines(), start=1):
        match = re.match(r"\s+(\w+)\s*:", text)
        if number in code_lines and match and match.group(1) in names:
            meaning = comments.get(number, "")
            if block and block[-1].endswith(":"):  # a lead-in to this field's comment
                meaning = " ".join(block + [meaning])
            elif block and before == "field" and not meaning:  # the meaning of an uncommented field
                meaning = " ".join(block)
            elif block:  # a heading over the fields below
                section = " ".join(block)
            out.append(FieldDoc(match.group(1), meaning.strip(), section))
            block, before = [], ("commented-field" if number in comments else "field")
        elif number in comments and number not in code_lines:
            if before == "commented-field" and not block and not comments[number].endswith(":"):
                out[-1].meaning += " " + comments[number]  # continues the comment of the field above
                continue
            block.append(comments[number])
        elif not text.strip():
            if block and before in ("other", "blank"):
                section = " ".join(block)
            block, before = [], "blank"
        else:
            block, before = [], "other"
    return out


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:  # a numeric key with its range: int (at least 1)
        base, *marks = typing.get_args(tp)
        ranges = [m.describe() for m in marks if hasattr(m, "describe")]
        return _type_name(base) + (f" ({', '.join(ranges)})" if ranges else "")
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return " or ".join(_type_name(a) for a in args) + (" or null" if optional else "")
    if origin is list:
        (item,) = typing.get_args(tp) or (typing.Any,)
        return f"list[{_type_name(item)}]"
    if tp is typing.Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return ""
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`' if not value else f"`{value}`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rows(cls: type, prefix: str, skip=()) -> list[tuple[str, list[str]]]:
    """[(section, [table rows])] for cls's fields, keys written with `prefix`."""
    hints = typing.get_type_hints(cls, include_extras=True)
    docs = {d.name: d for d in _class_comments(cls)}
    sections: list[tuple[str, list[str]]] = []
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        doc = docs[field.name]
        key = prefix + field.name
        meaning = doc.meaning
        if key in FREE_FORM:
            meaning = f"{meaning}; {FREE_FORM[key]}" if meaning else FREE_FORM[key]
        row = f"| `{key}` | {_cell(_type_name(hints[field.name]))} | {_cell(_default(field))} | {_cell(meaning)} |"
        heading = doc.section.strip()
        if not sections or sections[-1][0] != heading:
            sections.append((heading, []))
        sections[-1][1].append(row)
    return sections


def _table(rows: list[str]) -> list[str]:
    return ["| key | type | default | meaning |", "|---|---|---|---|", *rows, ""]


def _first_paragraph(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    if doc.startswith(cls.__name__ + "("):  # the dataclass's generated signature: no docstring of its own
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def markdown() -> str:
    """docs/configuration.md: every config key with its type, default and meaning."""
    sections = {f.name for f in dataclasses.fields(Config) if f.default_factory is not dataclasses.MISSING
                and dataclasses.is_dataclass(f.default_factory())}  # fmt: skip
    out = [
        "# Configuration reference",
        "",
        f"<!-- Generated from src/ganforge/config.py by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "A run's configuration is `defaults <- preset <- overrides`: the defaults below, then the preset's YAML",
        "(`--preset NAME` or a file; `base: NAME` inherits another preset), then `key=value` words on the command",
        "line (`ganforge train opt_d.lr=1e-4 model.g.width=32`). An unknown key or a value of the wrong type is an",
        "error naming the key. `ganforge train --dry-run` prints the resolved configuration.",
        "",
        "Top-level keys first, then the sections `model.*`, `opt_g.*` / `opt_d.*` and `diagnose.*`.",
        "",
    ]
    for heading, rows in _rows(Config, "", skip=sections):
        out += [f"## {heading}" if heading else "## Keys", "", *_table(rows)]
    out += ["## `model.*`: the networks", ""]
    for heading, rows in _rows(ModelConfig, "model."):
        out += ([f"### {heading}", ""] if heading else []) + _table(rows)
    out += ["## `opt_g.*` and `opt_d.*`: one optimizer per network", "", _first_paragraph(OptimConfig), "",
            "The keys are the same for both; `opt_d.*` is D's.", ""]  # fmt: skip
    for heading, rows in _rows(OptimConfig, "opt_g."):
        out += ([f"### {heading}", ""] if heading else []) + _table(rows)
    out += ["## `diagnose.*`: live health checks", "", _first_paragraph(DiagnoseConfig), ""]
    for heading, rows in _rows(DiagnoseConfig, "diagnose."):
        out += ([f"### {heading}", ""] if heading else []) + _table(rows)
    if config_mod.MOVED_KEYS:
        out += ["## Keys that moved", "", "A file that sets one of these gets an error naming its replacement;",
                "a stored run (config.yaml, checkpoints) is upgraded when it is read.", "",
                "| old key | now |", "|---|---|"]  # fmt: skip
        out += [f"| `{old}` | {_cell(new)} |" for old, new in config_mod.MOVED_KEYS.items()] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(markdown(), end="")

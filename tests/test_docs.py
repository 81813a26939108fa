"""The documentation cannot drift from the code: every `ganforge ...` command in README.md and docs/*.md
parses (argument parsing only: nothing is trained), every config key the pages name in backticks
exists, their links lead somewhere, and docs/configuration.md is what the config dataclasses generate."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import shlex
from pathlib import Path

import pytest

from ganforge import config as config_mod
from ganforge.cli import build_parser, parse_words
from ganforge.config import Config
from ganforge.config_reference import REGENERATE, markdown
from ganforge.errors import ConfigError
from ganforge.presets import list_presets

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# Keys whose insides are free-form in Config (checked by the builders and the algorithm's Params).
FREE = ("model.g.", "model.d.", "algo.")
# The words after which `key=value` is not a config override but a course or classifier argument.
NOT_CONFIG = re.compile(r"--(?:set|schedule-arg)[ =]\S+")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, body) of each ``` block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def inline(text: str) -> list[str]:
    """The `code spans` of the prose (outside ``` blocks)."""
    return INLINE.findall(FENCE.sub("", text))


def shell_lines(body: str) -> list[str]:
    """A shell block's lines, continuations (trailing backslash) joined."""
    return body.replace("\\\n", " ").splitlines()


def ganforge_words(line: str) -> list[str] | None:
    """The arguments of a `ganforge ...` (or `... -m ganforge ...`) command line, comments dropped; None
    for any other line."""
    line = line.strip().removeprefix("$ ")
    if line.startswith("ganforge "):
        rest = line[len("ganforge "):]
    elif " -m ganforge " in line:
        rest = line.split(" -m ganforge ", 1)[1]
    else:
        return None
    return shlex.split(rest, comments=True)


def commands(page: Path) -> list[tuple[str, bool]]:
    """(command line, whether it must be complete): lines of shell blocks must be; a code span in prose
    may name a command with some of its options only (`ganforge generate -n 1 --seed S`)."""
    text = page.read_text()
    found = [(line, True) for lang, body in fenced(text) if lang in ("", "bash", "sh", "shell")
             for line in shell_lines(body) if ganforge_words(line) is not None]  # fmt: skip
    found += [(span, False) for span in inline(text) if ganforge_words(span) is not None]
    return found


def command_problem(line: str, complete: bool = True) -> str | None:
    """Why `line` is not a valid ganforge command (None when it parses and its overrides are config keys).
    With complete=False, missing required arguments are allowed; unknown commands and options are not."""
    words = ganforge_words(line)
    for _ in range(3):  # a prose mention: up to two rounds of filling in required arguments
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                args = parse_words(build_parser(), words)
            break
        except SystemExit as e:
            message = (stderr.getvalue().strip().splitlines() or [""])[-1]
            if e.code == 0 and ("--help" in words or "-h" in words):
                return None
            missing = message.partition("the following arguments are required: ")[2]
            if complete or not missing:
                return f"does not parse: {message}"
            # a command named in prose: fill in what it leaves out, to check the options it does give
            for name in missing.split(", "):
                words = words + ([name.split("/")[0], "X"] if name.startswith("-") else ["X"])
    else:
        return f"does not parse: {message}"
    if not getattr(args, "func", None):
        return "names no command"
    preset = getattr(args, "preset", None)
    placeholder = preset is not None and preset.isupper()  # --preset NAME
    if preset and not placeholder and not preset.endswith((".yaml", ".yml")) and preset not in list_presets():
        return f"names preset '{preset}', which does not exist"
    if args.command == "train" or (args.command == "lr-find" and preset):
        for text in args.overrides:
            try:
                config_mod.merge(Config(), config_mod.parse_override(text))
            except ConfigError as e:
                return f"override '{text}': {e}"
    return None


def code_texts(page: Path) -> list[str]:
    """Every backticked text of a page: code spans and the lines of shell/unlabelled blocks, each with
    shell comments and the non-config `--set k=v` arguments removed. Python code is left out: its
    `name=value` are keyword arguments."""
    text = page.read_text()
    out = [span for span in inline(text) if "(" not in span]
    for lang, body in fenced(text):
        if lang in ("", "bash", "sh", "shell"):
            out += [line.split(" #")[0] for line in shell_lines(body)]
        elif lang == "yaml":
            out += body.splitlines()
    return [NOT_CONFIG.sub("", t) for t in out]


DOTTED = re.compile(r"(?<![\w./-])((?:model|opt_g|opt_d|diagnose)(?:\.\w+)+)")
ASSIGNED = re.compile(r"(?:^|(?<=[\s,:'\"\[]))([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)=(?!=)")


def config_keys(texts: list[str]) -> set[str]:
    """The config keys named in backticked text: dotted keys of a section (`opt_g.lr`, `model.z_dim`)
    and the keys of `key=value` words (`r1_weight=`, `model.g.width=16`)."""
    keys = set()
    for t in texts:
        keys.update(DOTTED.findall(t))
        keys.update(ASSIGNED.findall(t))
    return keys


def key_problem(key: str) -> str | None:
    if key == "key":  # the placeholder of `key=value`
        return None
    if (key + ".").startswith(FREE) and key not in ("model.g", "model.d", "algo"):
        return None
    obj: object = Config()
    for part in key.split("."):
        fields = {f.name for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else set()
        if part not in fields:
            moved = config_mod.MOVED_KEYS.get(key)
            return f"config key `{key}` does not exist" + (f" (moved to {moved})" if moved else "")
        obj = getattr(obj, part)
    return None


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_command_in_the_docs_parses(page, capsys):
    lines = commands(page)
    problems = [f"{_name(page)}: `{line.strip()}` {why}" for line, complete in lines if (why := command_problem(line, complete))]
    assert not problems, "\n".join(problems)


def test_the_docs_show_commands():
    """The command scan finds what the pages hold (a scan that found nothing would pass every page)."""
    readme = commands(ROOT / "README.md")
    assert any(ganforge_words(line)[:1] == ["train"] for line, _ in readme)
    assert sum(len(commands(page)) for page in PAGES) > 100


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_config_key_in_the_docs_exists(page):
    problems = [f"{_name(page)}: {why}" for key in sorted(config_keys(code_texts(page))) if (why := key_problem(key))]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_broken_command_and_a_stale_key():
    assert command_problem("ganforge train --preset dcgan --stepz 10") is not None  # unknown flag
    assert command_problem("ganforge train --preset dcgan-demo opt_g.lrr=1e-3") is not None  # unknown key
    assert command_problem("ganforge train --preset no-such-preset") is not None
    assert command_problem("ganforge tran --preset dcgan") is not None  # unknown command
    assert command_problem("ganforge generate -n 1", complete=False) is None  # a command named in prose
    assert command_problem("ganforge generate -n 1") is not None  # ...but a command line must be whole
    assert command_problem("ganforge generate --stepz 1", complete=False) is not None
    assert command_problem("ganforge train --preset dcgan opt_g.lr=1e-3 model.g.width=32 steps=10") is None
    assert key_problem("opt_g.schedule") is None and key_problem("model.g.attention_res") is None
    assert "moved to opt_g.schedule" in key_problem("schedule_g")
    assert key_problem("diagnose.windoww") is not None
    assert config_keys(["ganforge train r1_weight=1 --set lr_max=0.4", "`opt_d.lr`"]) >= {"r1_weight", "opt_d.lr"}
    assert "lr_max" not in config_keys([NOT_CONFIG.sub("", "ganforge schedule 1cycle --set lr_max=0.4")])


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a page."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        if match := re.match(r"#{1,6} (.*)", line):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_links_between_pages_lead_somewhere(page):
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", page.read_text())):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{_name(page)}: link to {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            problems.append(f"{_name(page)}: link to {target}: no such heading in {dest.name}")
    assert not problems, "\n".join(problems)


def test_configuration_page_is_current():
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == markdown(), f"docs/configuration.md is out of date: run `{REGENERATE}`"


def test_every_config_key_has_a_meaning():
    """A new config field needs a trailing `# comment` in config.py: it is the key's line in the docs."""
    rows = [line.split("|") for line in markdown().splitlines() if line.startswith("| `")]
    rows = [cells for cells in rows if len(cells) == 6]  # | key | type | default | meaning |
    empty = [cells[1].strip() for cells in rows if not cells[4].strip()]
    assert len(rows) > 60
    assert not empty, f"config keys without a meaning (give each a trailing # comment in config.py): {empty}"


def test_readme_stays_a_front_door():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_the_readme_preset_table_gives_each_preset_its_size_class():
    from ganforge.presets import list_presets, size_class

    rows = re.findall(r"^\| `([\w-]+)` \| [^|]+ \| (demo|full) \|", (ROOT / "README.md").read_text(), re.M)
    assert dict(rows) == {name: size_class(name) for name in list_presets()}

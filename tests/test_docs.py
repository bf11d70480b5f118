"""The documentation site: documented commands exist, and links between pages resolve.

Fast and without mkdocs: the pages are read as text. `make docs` (mkdocs
build --strict) checks the same links again, and much more, in CI.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^\s*(```|~~~)")
SNIPPET = re.compile(r'^\s*--8<--\s+"([^"]+)"\s*$')
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# "specaudit" as a command word: not part of a path, module or package name.
COMMAND = re.compile(r"""(?:^|[\s"'(;&|])(?:python -m )?specaudit(?=\s|$)(.*)$""")
SHELL_END = {";", "&", "&&", "|", "||", ")", ">", ">>", "2>&1"}
# Options of other programs that the pages quote in inline code (accelerate's).
FOREIGN_OPTIONS = {"--multi_gpu", "--cpu", "--num_processes"}


def _load_hook():
    spec = importlib.util.spec_from_file_location(
        "cli_reference", DOCS / "hooks" / "cli_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _load_hook()


def pages() -> list[Path]:
    """Every page of the site (the hook's folder is excluded from the build)."""
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)


def expand(text: str) -> str:
    """Inline ``--8<--`` snippets, as pymdownx.snippets does (paths from the repo root)."""
    out = []
    for line in text.splitlines():
        match = SNIPPET.match(line)
        if match:
            path = ROOT / match.group(1)
            assert path.is_file(), f"snippet {match.group(1)} does not exist"
            out.extend(path.read_text(encoding="utf-8").splitlines())
        else:
            out.append(line)
    return "\n".join(out)


def page_text(page: Path, *, reference: bool = False) -> str:
    """A page with its snippets included, and with ``reference`` the CLI reference rendered.

    The rendered reference comes from the CLI itself, so the command check
    leaves it out; anchors into it need it.
    """
    text = expand(page.read_text(encoding="utf-8"))
    return text.replace(HOOK.MARKER, HOOK.render_reference()) if reference else text


def split_code(text: str) -> tuple[list[str], list[str]]:
    """Return (prose lines, code lines); continued shell lines are joined."""
    prose, code, in_fence, pending = [], [], False, ""
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            prose.append(line)
            continue
        line = pending + line
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        code.append(line)
    return prose, code


def command_lines(text: str) -> list[str]:
    """Code that may hold a specaudit command: code-block lines and inline code spans."""
    prose, code = split_code(text)
    spans = [m.group(1) for line in prose for m in INLINE_CODE.finditer(line)]
    return code + spans


def check_command(words: list[str], root) -> list[str]:
    """Problems of one ``specaudit WORDS...`` invocation against the CLI."""
    command, path = root, ["specaudit"]
    problems = []
    for word in words:
        word = word.strip("\"'")
        if word in SHELL_END or word.startswith("#"):
            break
        if word.startswith("-") and not re.match(r"-\d", word):
            name = word.split("=", 1)[0]
            if name not in HOOK.option_names(command):
                problems.append(f"{' '.join(path)}: no option {name}")
            continue
        children = getattr(command, "commands", None)
        if children:  # a group: the word must name a subcommand
            if word not in children:
                problems.append(f"{' '.join(path)}: no command {word!r}")
                break
            command = children[word]
            path.append(word)
    return problems


def check_commands(text: str, root) -> list[str]:
    """Problems of every specaudit command in a page's code."""
    problems = []
    for line in command_lines(text):
        for match in COMMAND.finditer(line.removeprefix("$ ")):
            problems += check_command(match.group(1).split(), root)
    return problems


def known_options(root) -> set[str]:
    """Every option spelling of every command."""
    return {
        name for _, command, _ in HOOK.walk_commands(root) for name in HOOK.option_names(command)
    }


def loose_options(text: str) -> list[str]:
    """Options quoted on their own in prose, like `--shard-by prompt`.

    Only spans that start with an option count: `apt-get install -y --no-...`
    is another program's command line.
    """
    prose, _ = split_code(text)
    found = []
    for line in prose:
        for span in INLINE_CODE.findall(line):
            if span.startswith("--"):
                found += [w.split("=", 1)[0] for w in span.split() if w.startswith("--")]
    return found


def slugify(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"[`*]", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(text: str) -> set[str]:
    """Heading anchors of a page, with toc's ``_1``, ``_2`` for repeated headings.

    Explicit anchors (``<a id="name"></a>``, which method.md gives each section
    so that code can cite it by a stable name) count too.
    """
    prose, _ = split_code(text)
    seen: set[str] = set()
    for line in prose:
        seen.update(re.findall(r'<a id="([^"]+)"></a>', line))
        match = HEADING.match(line)
        if not match:
            continue
        slug = base = slugify(match.group(2))
        n = 0
        while slug in seen:
            n += 1
            slug = f"{base}_{n}"
        seen.add(slug)
    return seen


def link_problems(page: Path, text: str, anchors_of) -> list[str]:
    """Links of one page that lead nowhere: a missing page or a missing anchor."""
    prose, _ = split_code(text)
    problems = []
    for line in prose:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if dest.suffix != ".md" or not dest.is_file() or DOCS not in dest.parents:
                problems.append(f"{page.name}: link {target} is not a page of the site")
                continue
            if anchor and anchor not in anchors_of(dest):
                problems.append(f"{page.name}: link {target}: no heading #{anchor}")
    return problems


@pytest.fixture(scope="module")
def root():
    return HOOK.root_command()


@pytest.fixture(scope="module")
def texts():
    return {page: page_text(page) for page in pages()}


def test_every_documented_command_and_option_exists(texts, root):
    problems = [
        f"{p.name}: {msg}" for p, text in texts.items() for msg in check_commands(text, root)
    ]
    assert problems == []
    # The pages do document commands: the check above is not vacuous.
    n = sum(bool(COMMAND.search(line)) for t in texts.values() for line in command_lines(t))
    assert n >= 40


def test_options_quoted_in_prose_exist(texts, root):
    known = known_options(root) | FOREIGN_OPTIONS
    quoted = {(p.name, o) for p, text in texts.items() for o in loose_options(text)}
    assert sorted((page, o) for page, o in quoted if o not in known) == []
    assert len(quoted) >= 30


def test_the_check_catches_a_wrong_command_or_option(root):
    page = """
```bash
specaudit run --gama 4 --out runs/x
specaudit frobnicate runs/x
python -m specaudit prompts show sw story -n 5 --split heldout
accelerate launch --multi_gpu -m specaudit run --no-progress --out runs/y
sbatch --wrap "specaudit merge runs/big --gate gate.yaml"
specaudit gate runs/x \\
  --policy gate.yaml --junitt gate.xml
```
Also `specaudit metrics runs/x --n-boots 10` and `specaudit/gate/example_policy.yaml`.
"""
    assert check_commands(page, root) == [
        "specaudit run: no option --gama",
        "specaudit: no command 'frobnicate'",
        "specaudit gate: no option --junitt",
        "specaudit metrics: no option --n-boots",
    ]
    assert loose_options("Use `--shard-by prompt`, `--shards 2`, not `pip install --user x`.") == [
        "--shard-by",
        "--shards",
    ]
    assert "--shards" not in known_options(root) and "--shard-by" in known_options(root)


def test_links_between_pages_resolve(texts):
    cache: dict[Path, set[str]] = {}

    def anchors_of(page: Path) -> set[str]:
        if page not in cache:
            cache[page] = anchors(page_text(page, reference=True))
        return cache[page]

    problems = [msg for p, text in texts.items() for msg in link_problems(p, text, anchors_of)]
    assert problems == []
    n_links = sum(len(LINK.findall(t)) for t in texts.values())
    assert n_links >= 20


def test_the_link_check_catches_broken_links(texts):
    gate = DOCS / "gate.md"
    page = DOCS / "index.md"
    text = "See [exit codes](gate.md#exit-codes), [a typo](gate.md#exit-code), [x](nope.md)."
    problems = link_problems(page, text, lambda p: anchors(texts[p]) if p == gate else set())
    assert problems == [
        "index.md: link gate.md#exit-code: no heading #exit-code",
        "index.md: link nope.md is not a page of the site",
    ]


def test_cli_reference_anchors_follow_the_command_names():
    assert {"specaudit-run", "specaudit-prompts-show", "specaudit-ngram-build"} <= anchors(
        HOOK.render_reference()
    )
    assert slugify("`specaudit run`") == "specaudit-run"
    assert slugify("With accelerate or torchrun (one machine or several)") == (
        "with-accelerate-or-torchrun-one-machine-or-several"
    )


def test_cli_reference_covers_every_command_and_option(root):
    reference = HOOK.render_reference()
    for path, command, _ in HOOK.walk_commands(root):
        assert f"## `{' '.join(('specaudit', *path))}`" in reference
        for name in HOOK.option_names(command) - {"--help"}:
            assert f"`{name}" in reference or f"/ {name}" in reference, (path, name)


def test_nav_lists_every_page_and_only_pages_that_exist():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def files(nav) -> list[str]:
        out = []
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            out += files(value) if isinstance(value, list) else [value]
        return out

    listed = files(config["nav"])
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(str(p.relative_to(DOCS)) for p in pages())
    assert config["strict"] is True


def test_griffe_extension_reads_field_comments_and_rest_roles():
    griffe = pytest.importorskip("griffe", reason="the docs extra (make install) provides griffe")
    spec = importlib.util.spec_from_file_location(
        "griffe_docstrings", DOCS / "hooks" / "griffe_docstrings.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = '''
class Config:
    """See :class:`~specaudit.metrics.Estimate` and :mod:`specaudit.gate`.

    Typical use::

        Config()
    """

    gamma: int = 4  #: draft length per step
    #: what the drafter is
    drafter: str = "x"
    seed: int = 0
'''
    extensions = griffe.load_extensions(module.SpecauditDocstrings())
    with griffe.temporary_visited_module(code, extensions=extensions) as mod:
        cls = mod["Config"]
        assert cls["gamma"].docstring.value == "draft length per step"
        assert cls["drafter"].docstring.value == "what the drafter is"
        assert cls["seed"].docstring is None
    assert module._markdown(cls.docstring.value).splitlines()[:3] == [
        "See `Estimate` and `specaudit.gate`.",
        "",
        "Typical use:",
    ]

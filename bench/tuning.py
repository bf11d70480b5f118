"""Does per-group tuning lift the worst-served group? The docs/tuning.md recipe, measured.

    python bench/tuning.py [--out runs/tune]

Runs the three steps of docs/tuning.md on the demo pair (each resumable; a
finished step is only re-read):

1. the default audit with the shipped drafter, an n-gram drafter built from
   the shipped monolingual text, and the default audit with it;
2. ``specaudit tune`` on the two audits (timed);
3. ``specaudit run --routing`` with the chosen routes, and, when the best
   single setting is not one of the two audits, an audit of that setting
   too, so both configurations are *verified* by measurement.

Prints, per group, the best single setting's and the routed configuration's
predicted and verified speed-ups, and checks the targets of the tuning
issue: the routed worst group at least 15% above the single setting's, no
group more than 5% below its single-setting speed-up, a median absolute
prediction error of at most 7%, and ``tune`` under 30 s. Nothing else may
run on the machine meanwhile: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from specaudit.metrics import compute_metrics, load_records
from specaudit.metrics.routing import load_routing

LANGUAGES = ("ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "sw", "zh")
TEXT = Path(__file__).resolve().parents[1] / "specaudit" / "data" / "text"
TARGET = Path(__file__).resolve().parents[1] / "specaudit" / "data" / "models" / "target"


def _specaudit(*args: str) -> float:
    """Run this interpreter's specaudit; return the wall time."""
    print("$ specaudit", " ".join(args), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "specaudit", *args], check=True)
    return time.perf_counter() - start


def _audit(out: Path, *args: str) -> None:
    if (out / "metrics.json").is_file():
        return
    _specaudit("run", *args, "--out", str(out), "--no-progress", *(["--resume"] * out.exists()))


def _speedups(run: Path) -> dict[str, float]:
    """Each group's headline speed-up, recomputed from the records by this checkout."""
    result = compute_metrics(load_records(run / "records.jsonl"), n_boot=200)
    return {g.group: g.speedup.estimate for g in result.groups}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/tune"))
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    _audit(out / "neural")
    ngram = out / "demo.ngram"
    if not ngram.is_file():
        texts = [a for lang in LANGUAGES for a in ("--text", str(TEXT / f"{lang}.train.txt.gz"))]
        _specaudit("ngram", "build", "--tokenizer", str(TARGET), *texts, "--order", "4",
                   "--out", str(ngram))  # fmt: skip
    _audit(out / "ngram", "--target", str(TARGET), "--drafter", f"ngram:{ngram}")
    routing = out / "routing.yaml"
    tune_s = _specaudit("tune", str(out / "neural"), str(out / "ngram"), "--out", str(routing))
    table = load_routing(routing)
    _audit(out / "routed", "--routing", str(routing))

    tune = table.tune
    single = tune["single"]
    runs = {"neural": out / "neural", "ngram": out / "ngram"}
    audited = tune["audited_gamma"]
    if single.get("gamma") == audited.get(single["drafter"]):
        single_run = runs[single["drafter"]]
    else:
        # The single setting as a plain audit: one drafter and gamma for every group.
        single_run = out / "single"
        drafter = ["--target", str(TARGET), "--drafter", f"ngram:{ngram}"]
        _audit(single_run, *(drafter if single["drafter"] == "ngram" else []),
               "--gamma", str(single["gamma"]))  # fmt: skip

    routed_v, single_v = _speedups(out / "routed"), _speedups(single_run)
    predicted = {g: p["speedup"] for g, p in tune["predicted"].items()}
    single_p = {g: p["speedup"] for g, p in tune["single_predicted"].items()}
    print(f"\ntune took {tune_s:.1f} s (target < 30 s); single setting: {single}")
    print(f"{'group':<16}{'route':<14}{'single pred':>12}{'verified':>10}"
          f"{'routed pred':>13}{'verified':>10}{'routed/single':>15}")  # fmt: skip
    errors, changes = [], {}
    for g in routed_v:
        label = tune["predicted"][g]["route"]
        change = routed_v[g] / single_v[g]
        changes[g] = change
        for pred, ver in ((predicted[g], routed_v[g]), (single_p.get(g), single_v[g])):
            if pred is not None:
                errors.append(abs(pred - ver) / ver)
        print(f"{g:<16}{label:<14}{single_p.get(g, float('nan')):>12.3f}{single_v[g]:>10.3f}"
              f"{predicted[g]:>13.3f}{routed_v[g]:>10.3f}{change:>15.3f}")  # fmt: skip
    worst_single = min(single_v, key=single_v.get)
    worst_routed = min(routed_v, key=routed_v.get)
    lift = routed_v[worst_routed] / single_v[worst_single]
    drop = min(changes.values())
    print(f"worst group, single: {worst_single} {single_v[worst_single]:.3f}x; "
          f"routed: {worst_routed} {routed_v[worst_routed]:.3f}x; lift {lift - 1:+.1%} "
          f"(target >= +15%)")  # fmt: skip
    print(f"largest fall of a group, routed against single: {drop - 1:+.1%} (target >= -5%)")
    default_v = _speedups(out / "neural")
    worst_default = min(default_v, key=default_v.get)
    print(f"for comparison, the default setting (neural γ={audited['neural']}): worst group "
          f"{worst_default} {default_v[worst_default]:.3f}x; routed/default "
          f"{routed_v[worst_routed] / default_v[worst_default] - 1:+.1%}")  # fmt: skip
    print(f"median |predicted - verified| / verified over both configurations: "
          f"{np.median(errors):.1%} (target <= 7%)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: every mitigation strategy on the demo pair, judged on held-out prompts.

Runs ``specaudit mitigate --strategy all`` (resumable; a finished run is only
re-read) and checks the targets of the mitigation issue, printing measured
figures, never assumed ones:

- s-CDF against the original drafter: U down by at least 30%, the worst
  group's speed-up up, English speed-up down by no more than 5%;
- s-CDF against ``balanced``: U lower;
- every strategy trains within 15 minutes.

U is reported twice: the paper's U on cross-entropy D = H(p) + KL(p‖q), and
U on KL alone (the target's entropy H(p), which no drafter can change,
removed), both from the audits' per-group figures.

Usage::

    python bench/mitigation.py [--out runs/mitigation-bench]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BUDGET_S = 15 * 60


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _change(payload: dict, strategy: str, group: str) -> dict:
    return payload["group_speedup_change"][strategy][group]


def run_all_strategies(out, extra=()) -> None:
    """Run (or resume) ``specaudit mitigate --strategy all --out OUT``, echoing the command."""
    cmd = ["specaudit", "mitigate", "--strategy", "all", "--out", str(out), "--no-progress", *extra]
    if (out / "mitigation.json").is_file():
        cmd.append("--resume")
    print("$", " ".join(cmd), flush=True)
    # This interpreter's specaudit, so the benchmark runs without an activated venv.
    subprocess.run([sys.executable, "-m", *cmd], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/mitigation-bench"))
    parser.add_argument(
        "--extra", nargs=argparse.REMAINDER, default=[], help="further `specaudit mitigate` options"
    )
    args = parser.parse_args()
    run_all_strategies(args.out, args.extra)

    payload = json.loads((args.out / "strategies.json").read_text())
    before = _metrics(Path(payload["before"]))
    scope = {r["strategy"]: r for r in payload["scopes"]["all groups"]}
    u0 = before["disparity"]["unfairness_u"]["estimate"]
    ukl0 = scope["original"]["unfairness_u_kl"]["sort"]
    speeds = {g["group"]: g["speedup"]["estimate"] for g in before["groups"]}
    worst = min(speeds, key=speeds.get)
    english = [g for g in speeds if g.startswith("en/")]
    print(
        "\nstrategy   train_s  U (CE)  ΔU      U (KL)   ΔU_KL   worst-before "
        f"({worst}) change        " + "  ".join(f"{g} change" for g in english)
    )
    rows = {}
    for name, run_dir in payload["strategies"].items():
        m = _metrics(Path(run_dir))
        card = Path(run_dir).parent / "training_card.json"
        seconds = json.loads(card.read_text())["training"]["seconds"] if card.is_file() else 0.0
        u, ukl = m["disparity"]["unfairness_u"]["estimate"], scope[name]["unfairness_u_kl"]["sort"]
        w = _change(payload, name, worst)
        en = [_change(payload, name, g) for g in english]
        rows[name] = {"seconds": seconds, "u": u, "u_kl": ukl, "worst": w, "en": en}
        print(
            f"{name:<10} {seconds:>7.0f}  {u:.4f} {u / u0 - 1:+6.1%}  {ukl:.4f} "
            f"{ukl / ukl0 - 1:+7.1%}  {w['text']} {w['interval']:<16}  "
            + "  ".join(f"{e['text']} {e['interval']}" for e in en)
        )
    print(f"original            {u0:.4f}          {ukl0:.4f}")

    s, b = rows["scdf"], rows["balanced"]
    checks = [
        ("s-CDF: U (CE) down >= 30%", s["u"] <= 0.7 * u0, f"{s['u'] / u0 - 1:+.1%}"),
        ("s-CDF: U (KL) down >= 30%", s["u_kl"] <= 0.7 * ukl0, f"{s['u_kl'] / ukl0 - 1:+.1%}"),
        (
            f"s-CDF: worst group ({worst}) speed-up up",
            s["worst"]["sort"] > 1.0,
            f"{s['worst']['text']} {s['worst']['interval']}",
        ),
        (
            "s-CDF: English speed-up down <= 5%",
            all(e["sort"] >= 0.95 for e in s["en"]),
            ", ".join(f"{g} {e['text']}" for g, e in zip(english, s["en"], strict=True)),
        ),
        ("s-CDF U (CE) < balanced U (CE)", s["u"] < b["u"], f"{s['u']:.4f} vs {b['u']:.4f}"),
        (
            "s-CDF U (KL) < balanced U (KL)",
            s["u_kl"] < b["u_kl"],
            f"{s['u_kl']:.4f} vs {b['u_kl']:.4f}",
        ),
        (
            "every strategy trains in <= 15 min",
            all(r["seconds"] <= BUDGET_S for r in rows.values()),
            ", ".join(f"{k} {r['seconds']:.0f} s" for k, r in rows.items()),
        ),
    ]
    print()
    for label, ok, detail in checks:
        print(f"[{'met' if ok else 'NOT met'}] {label}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

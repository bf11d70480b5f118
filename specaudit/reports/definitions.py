"""One-sentence definitions of every figure a report shows (docs/method.md).

The names are the ones used in ``metrics.json``, ``groups.csv`` and the code;
a report lists them in its method section so that a reader never has to
guess which acceptance rate or which speed-up is meant.
"""

from __future__ import annotations

__all__ = ["DEFINITIONS", "LABELS"]

#: Short human labels for table headers and plot axes.
LABELS: dict[str, str] = {
    "acceptance_rate": "Acceptance rate α",
    "mean_accepted_length": "Mean accepted length τ",
    "speedup": "Speed-up (measured)",
    "speedup_modelled": "Speed-up (cost model)",
    "analytic_speedup": "Speed-up (idealised)",
    "tokens_per_char": "Tokens per character",
    "share_slower": "Share of prompts slower",
    "unfairness_u": "Unfairness U",
}

#: (name, definition) pairs in the order a report lists them.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "acceptance_rate",
        "Leviathan's α estimate: accepted drafts over drafts verified up to and including "
        "the first rejection of each step, Σ n_t / Σ (n_t + 1[rejection]); the α that enters "
        "the speed-up formula.",
    ),
    (
        "draft_acceptance_rate",
        "The rate serving engines report, accepted over all drafted tokens Σ n_t / Σ γ_t; "
        "biased low and never used in the speed-up formula.",
    ),
    (
        "mean_accepted_length",
        "Tokens emitted per target forward, the mean of n_t + 1 over steps; plain decoding "
        "scores 1.0.",
    ),
    (
        "position_acceptance",
        "For each draft position i, the share of steps that accepted draft i among those "
        "that verified it.",
    ),
    (
        "distributional_alpha",
        "The mean over verified positions of Σ_x min(p, q) = 1 − TV(p, q), pooled over tokens "
        "or averaged over prompts.",
    ),
    (
        "speedup",
        "Summed wall time of plain target decoding over summed wall time of speculative "
        "decoding for the same prompts and tokens; above 1 is faster, below 1 slower. A "
        "decode whose time is far above what the cost model predicts for its steps (a stall) "
        "is re-timed during the run (with --timing sequential, so is one timed while other "
        "processes used the CPUs); a prompt still stalled counts both its decodes at their "
        "modelled times (they were timed together, by default interleaved step by step). "
        "speedup_raw keeps every measured time as it is.",
    ),
    (
        "speedup_modelled",
        "Summed modelled plain time over summed modelled speculative time, from each prompt's "
        "step counts and the per-forward costs fitted (as medians) on this run's own records: "
        "what the measured speed-up would be if nothing ever stalled.",
    ),
    (
        "share_slower",
        "The share of prompts whose own speed-up is below 1, i.e. that speculation made slower.",
    ),
    (
        "analytic_speedup",
        "f_γ(α) / (1 + γc) with f_γ(α) = (1 − α^(γ+1)) / (1 − α) the expected tokens per step "
        "and c the drafter-to-target forward-cost ratio measured in the run. The idealised "
        "bound: it prices a verify forward of γ + 1 tokens like a one-token forward and "
        "ignores the fixed cost of each speculative step, so it sits above the measured and "
        "modelled speed-ups.",
    ),
    (
        "break_even_alpha",
        "The acceptance rate at which the analytic speed-up equals 1; the margin is the "
        "group's acceptance rate minus it.",
    ),
    (
        "tokens_per_char",
        "Output tokens per output character: how many tokens the tokenizer needs for the "
        "same amount of text.",
    ),
    (
        "tokens_per_s_plain / tokens_per_s_spec",
        "Output tokens per second of wall time, plain and speculative; chars_per_s_plain and "
        "chars_per_s_spec give the same for characters, which is what users feel.",
    ),
    (
        "degenerate",
        "A prompt whose output has one n-gram repeated back to back over at least half of "
        "it (loop_share ≥ 0.5) or fewer than half distinct token bigrams (distinct_2 < 0.5); "
        "degenerate_share is the group's share of such prompts.",
    ),
    (
        "acceptance_rate_non_degenerate",
        "acceptance_rate over the non-degenerate prompts only; speedup_non_degenerate likewise.",
    ),
    (
        "distinct_n",
        "Unique token n-grams over all n-grams of an output (n = 1, 2, 3); 1 means no repeats. "
        "loop_length is the longest back-to-back repetition of one n-gram, in tokens; "
        "compression_ratio is UTF-8 bytes over zlib-compressed bytes.",
    ),
    (
        "chrf",
        "sacrebleu's sentence chrF (character 6-grams, β = 2; chrf_plus_plus adds word "
        "bigrams) of the output against the prompt's reference, 0–100, averaged over the "
        "group's prompts with a reference.",
    ),
    (
        "cross_entropy",
        "The group's mean −Σ_x p log q of the drafter q against the target p over verified "
        "positions (D in the paper).",
    ),
    (
        "unfairness_u",
        "U = (1/m) Σ_i (D_i − D̄)², the population variance of the m groups' mean "
        "cross-entropy (reconstructed from arXiv 2510.02128); 0 means no disparity.",
    ),
    (
        "unfairness_u_entropy",
        "Var(H) over groups, H the target's own mean entropy (D − KL): the part of U no "
        "drafter can change. U = Var(H) + U on KL + 2 Cov(H, KL).",
    ),
    (
        "unfairness_u_kl",
        "U on KL: the variance over groups of the mean KL(p‖q), the drafter's part of U.",
    ),
    (
        "unfairness_u_tv",
        "U on total variation: the variance over groups of 1 − α (α = Σ_x min(p, q)); finite "
        "for every drafter, and the figure to read when cross-entropy is floor-dominated.",
    ),
    (
        "floor_dominated",
        "Groups whose drafter gives probability 0 to tokens the target rates (n-gram, top-k "
        "truncated): their cross-entropy and KL measure the log-q floor, not the fit.",
    ),
    (
        "speedup_min_max_ratio",
        "The smallest group speed-up over the largest; 1 means no disparity, and it is biased "
        "low, so decisions use the contrasts instead.",
    ),
    (
        "speedup_ratio",
        "A group's speed-up over its reference group's speed-up; 1 means no disparity.",
    ),
    (
        "acceptance_diff",
        "A group's acceptance rate minus its reference group's; 0 means no disparity.",
    ),
    (
        "interval",
        "Bootstrap confidence intervals resample prompts within each group (items as clusters "
        "for parallel prompt sets), expanded for small samples; p-values invert them and are "
        "Holm-adjusted over each family of contrasts.",
    ),
)

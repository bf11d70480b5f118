"""The drafter training loop shared by s-CDF and the other gradient strategies.

Only the drafter changes. The target is frozen (``requires_grad`` off, eval
mode) and its parameters are hashed before and after training; a mismatch
raises instead of shipping a drafter measured against a different target.

Every ``eval_every`` steps the probe set is evaluated (per-group
cross-entropy D_i, distributional α_i, U), a row is appended to
``training.csv``, the best weights so far are kept in ``best.safetensors``
and a resumable ``checkpoint.pt`` is written. Training stops at ``steps``,
at ``time_budget`` seconds, or when the stop criterion (U for s-CDF) has not
improved for ``patience`` evaluations; the best evaluated *trained* weights
are returned (step 0, the original drafter, is the curves' starting point only).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from specaudit.atomic import atomic_path, write_atomic
from specaudit.audit.drafters.neural import align_vocab
from specaudit.errors import RuntimeFailure
from specaudit.mitigation.batches import (
    collate,
    draw_per_group,
    draw_weighted,
    text_windows,
)
from specaudit.mitigation.config import MitigationConfig
from specaudit.mitigation.continuations import TrainingRow
from specaudit.mitigation.objective import (
    coarse_entropy,
    group_means,
    hard_cross_entropy,
    position_group_means,
    sparse_soft_cross_entropy,
)
from specaudit.mitigation.probe import ProbeResult, ProbeSet, evaluate_probe
from specaudit.mitigation.soft_labels import SoftLabels
from specaudit.mitigation.weights import Ema, shift_by_minimum, uniform_weights

__all__ = ["TrainingData", "TrainingOutcome", "parameter_digest", "train_drafter"]

WARMUP_STEPS = 10
#: A criterion must improve by this fraction to count as an improvement.
MIN_RELATIVE_GAIN = 1e-3


@dataclass
class TrainingData:
    """What a trained strategy learns from and is tracked on."""

    groups: tuple[str, ...]  #: training groups (languages), in a fixed order
    train: list[list[TrainingRow]]  #: per group: distillation rows
    probe: ProbeSet  #: probe rows with the target's log-probs
    pad_id: int
    vocab_size: int  #: the target's output width
    labels: SoftLabels | None = None  #: the target's top-k on the train rows (distillation)
    streams: list[torch.Tensor] | None = None  #: per group: text token stream (mono)


@dataclass
class TrainingOutcome:
    """What a training run did."""

    steps: int
    best_step: int
    stop_reason: str
    elapsed_s: float
    criterion: str
    history: list[dict] = field(default_factory=list)  #: one row per probe evaluation


def parameter_digest(model: torch.nn.Module) -> str:
    """sha256 over every parameter's bytes: changes if any weight changes."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _lr(config: MitigationConfig, step: int) -> float:
    warm = min(1.0, (step + 1) / WARMUP_STEPS)
    progress = min(1.0, step / config.steps)
    return config.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _history_row(
    step: int,
    elapsed: float,
    lr: float,
    loss: float,
    probe: ProbeResult,
    weights: Sequence[float],
    groups: Sequence[str],
) -> dict:
    row = {
        "step": step,
        "elapsed_s": round(elapsed, 2),
        "lr": lr,
        "train_loss": loss,
        "unfairness_u": probe.unfairness_u,
        "unfairness_u_kl": probe.unfairness_u_kl,
        "unfairness_u_entropy": probe.unfairness_u_entropy,
        "unfairness_u_tv": probe.unfairness_u_tv,
        "mean_cross_entropy": probe.mean_cross_entropy,
        "mean_kl": float(np.mean(probe.kl)),
        "mean_alpha": float(np.mean(probe.alpha)),
    }
    for g, ce, kl, a, w in zip(
        groups, probe.cross_entropy, probe.kl, probe.alpha, weights, strict=True
    ):
        row[f"cross_entropy_{g}"] = ce
        row[f"kl_{g}"] = kl
        row[f"alpha_{g}"] = a
        row[f"weight_{g}"] = float(w)
    return row


def _write_csv(path: Path, history: list[dict]) -> None:
    import pandas as pd

    write_atomic(path, lambda fh: pd.DataFrame(history).to_csv(fh, index=False))


class _Trainer:
    def __init__(
        self,
        target,
        drafter,
        data: TrainingData,
        config: MitigationConfig,
        out_dir: Path,
        log: Callable[[str], None],
    ) -> None:
        self.target, self.drafter, self.data, self.config = target, drafter, data, config
        self.out, self.log = out_dir, log
        self.m = len(data.groups)
        self.index = {g: i for i, g in enumerate(data.groups)}
        self.criterion = config.criterion()
        self.opt = torch.optim.AdamW(
            drafter.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=0.0
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.ema = Ema(self.m, config.ema_decay)
        self.probe_d: list[float] | None = None
        self.step, self.elapsed, self.bad_evals = 0, 0.0, 0
        self.best_value, self.best_step = math.inf, 0
        self.history: list[dict] = []
        self.last_loss = float("nan")
        self.weights = uniform_weights(self.m)

    # -------------------------------------------------------------- state

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def best(self) -> Path:
        return self.out / "best.safetensors"

    def save(self) -> None:
        state = {
            "drafter": self.drafter.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "bad_evals": self.bad_evals,
            "best_value": self.best_value,
            "best_step": self.best_step,
            "history": self.history,
            "ema": self.ema.state_dict(),
            "generator": self.generator.get_state(),
            "probe_d": self.probe_d,
            "config": self.config.model_dump(),
        }
        with atomic_path(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def restore(self) -> bool:
        if not self.checkpoint.is_file():
            return False
        # weights_only: the checkpoint holds tensors and plain Python values only.
        state = torch.load(self.checkpoint, weights_only=True)
        if state["config"] != self.config.model_dump():
            raise RuntimeFailure(
                f"{self.checkpoint} was written with other settings; use a new --out "
                "or delete the checkpoint to start over"
            )
        self.drafter.load_state_dict(state["drafter"])
        self.opt.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.bad_evals, self.history = state["bad_evals"], state["history"]
        self.best_value, self.best_step = state["best_value"], state["best_step"]
        self.probe_d = state["probe_d"]
        self.log(f"resumed at step {self.step} ({self.elapsed:.0f} s trained)")
        return True

    # ------------------------------------------------------------ weights

    def group_weights(self, minibatch_d: np.ndarray | None) -> np.ndarray:
        """Return the step's w_i: shift-by-minimum for s-CDF, uniform otherwise."""
        if self.config.strategy != "scdf":
            return uniform_weights(self.m)
        if self.config.weights_from == "probe":
            d = self.probe_d
        else:
            d = self.ema.update(minibatch_d) if minibatch_d is not None else self.ema.value
            d = d if np.all(np.isfinite(d)) else None
        return uniform_weights(self.m) if d is None else shift_by_minimum(d)

    # -------------------------------------------------------------- steps

    def _distill_loss(self) -> torch.Tensor:
        sampled = self.config.strategy == "scdf" and self.config.weighting == "sample"
        if sampled:
            rows = draw_weighted(
                self.data.train, self.weights, self.m * self.config.batch_size, self.generator
            )
        else:
            rows = draw_per_group(self.data.train, self.config.batch_size, self.generator)
        batch = collate(rows, self.index, self.data.pad_id).to(self.drafter.device)
        logits = self.drafter(input_ids=batch.ids, attention_mask=batch.attention).logits
        logits = align_vocab(logits[batch.score], self.data.vocab_size)
        indices, probs = self.data.labels.lookup(rows)
        ce = sparse_soft_cross_entropy(logits, indices.to(logits.device), probs.to(logits.device))
        per_position = batch.groups.repeat_interleave(batch.score.sum(1))
        d, counts = position_group_means(ce, per_position, self.m)
        estimate = d.detach()
        if self.config.divergence == "kl":  # KL = CE − H(p); H(p) from the same labels
            estimate = estimate - position_group_means(
                coarse_entropy(probs), per_position.cpu(), self.m
            )[0].to(estimate.device)
        estimate = estimate.cpu().numpy()
        self.weights = self.group_weights(estimate)
        if sampled:
            # Step on the drawn groups' rows as they came: in expectation this
            # is Σ w_i D̂_i / Σ w_i. Their D̂ still feed the EMA for the next draw.
            seen = counts > 0
            return (d[seen] * counts[seen]).sum() / counts[seen].sum()
        w = torch.as_tensor(self.weights, dtype=d.dtype, device=d.device)
        return (w * d).sum()

    def _mono_loss(self) -> torch.Tensor:
        ids, groups = text_windows(
            self.data.streams, self.config.batch_size, self.config.mono_seq_len, self.generator
        )
        ids, groups = ids.to(self.drafter.device), groups.to(self.drafter.device)
        ce = hard_cross_entropy(self.drafter(input_ids=ids).logits, ids)
        d, _ = group_means(ce, torch.ones_like(ce, dtype=torch.bool), groups, self.m)
        return d.mean()

    def evaluate(self) -> bool:
        """Probe, log, keep the best weights and checkpoint; True to stop early."""
        probe = evaluate_probe(self.drafter, self.data.probe, self.m)
        self.probe_d = list(probe.kl if self.config.divergence == "kl" else probe.cross_entropy)
        if self.config.strategy == "scdf" and self.config.weights_from == "probe":
            self.weights = self.group_weights(None)
        row = _history_row(
            self.step,
            self.elapsed,
            _lr(self.config, self.step),
            self.last_loss,
            probe,
            self.weights,
            self.data.groups,
        )
        self.history.append(row)
        _write_csv(self.out / "training.csv", self.history)
        value = row[self.criterion]
        if self.step == 0:
            # The original weights are the starting point of every curve, not a
            # candidate: a strategy always returns weights it trained, so its
            # effect is visible even when it never beats the original. They
            # are saved only as a fallback for a run stopped before step 1.
            with atomic_path(self.best) as tmp:
                save_model(self.drafter, str(tmp))  # handles tied embeddings
        elif value < self.best_value * (1 - MIN_RELATIVE_GAIN):
            self.best_value, self.best_step, self.bad_evals = value, self.step, 0
            with atomic_path(self.best) as tmp:
                save_model(self.drafter, str(tmp))
        else:
            self.bad_evals += 1
        self.log(
            f"step {self.step:>4}  U {probe.unfairness_u:.4f}  U_KL "
            f"{probe.unfairness_u_kl:.4f}  mean D {probe.mean_cross_entropy:.4f}  "
            f"mean α {row['mean_alpha']:.3f}  "
            f"loss {self.last_loss:.4f}  {self.elapsed:.0f} s"
        )
        self.save()
        return self.bad_evals >= self.config.patience

    def run(self) -> TrainingOutcome:
        if not self.restore():
            self.evaluate()  # step 0: the original drafter, the starting point of every curve
        self.drafter.train()
        stop_reason = "steps"
        t0 = time.perf_counter()
        while self.step < self.config.steps:
            if self.bad_evals >= self.config.patience:
                stop_reason = (
                    f"{self.criterion} did not improve for {self.config.patience} evaluations"
                )
                break
            if self.elapsed + time.perf_counter() - t0 >= self.config.time_budget:
                stop_reason = f"time budget of {self.config.time_budget:.0f} s"
                break
            for group in self.opt.param_groups:
                group["lr"] = _lr(self.config, self.step)
            loss = self._mono_loss() if self.config.strategy == "mono" else self._distill_loss()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.drafter.parameters(), 1.0)
            self.opt.step()
            self.step += 1
            self.last_loss = float(loss.detach())
            if self.step % self.config.eval_every == 0 or self.step == self.config.steps:
                now = time.perf_counter()
                self.elapsed += now - t0
                t0 = now
                self.evaluate()
                t0 = time.perf_counter()
        self.elapsed += time.perf_counter() - t0
        if self.history and self.history[-1]["step"] != self.step:
            self.evaluate()  # score the last weights too before choosing the best
        load_model(self.drafter, str(self.best))
        self.drafter.eval()
        return TrainingOutcome(
            self.step, self.best_step, stop_reason, self.elapsed, self.criterion, self.history
        )


def train_drafter(
    target,
    drafter,
    data: TrainingData,
    config: MitigationConfig,
    out_dir: str | Path,
    *,
    log: Callable[[str], None] = print,
) -> TrainingOutcome:
    """Train ``drafter`` in place for ``config.strategy``; the target never changes.

    Parameters
    ----------
    target, drafter
        transformers causal LMs on the same device, sharing a tokenizer. The
        drafter should be in float32 for training.
    data : TrainingData
        Groups, distillation rows (or text streams for ``mono``) and probes.
    config : MitigationConfig
        Strategy and budget.
    out_dir : path
        Where ``training.csv``, ``best.safetensors`` and ``checkpoint.pt`` go;
        an existing checkpoint with the same settings is resumed.
    log : callable
        Receives one line per evaluation.

    Returns
    -------
    TrainingOutcome
        The drafter holds the best evaluated weights on return.

    Raises
    ------
    RuntimeFailure
        If the target's parameters changed during training.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target.eval()
    target.requires_grad_(False)
    before = parameter_digest(target)
    outcome = _Trainer(target, drafter, data, config, out, log).run()
    if parameter_digest(target) != before:
        raise RuntimeFailure("the target's parameters changed during drafter training (a bug)")
    return outcome

"""The frozen target's soft labels on the training rows, top-k, computed once.

The target is 10× the drafter here (and often 10–100× in practice); running
it at every training step would cost most of the step. Its distribution at
each continuation position does not change, so it is computed once per row,
truncated to the ``k`` most probable tokens, and cached beside the
continuations. Training then runs the drafter alone.

Truncation drops the target's tail mass (reported as ``covered_mass``), so
the training loss ``−Σ_top-k p log q`` slightly under-counts D; the probe
set, which tracks D_i and U, always uses the full distributions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from specaudit.atomic import atomic_path
from specaudit.mitigation.batches import collate
from specaudit.mitigation.continuations import TrainingRow, cache_key

__all__ = ["SoftLabels", "compute_soft_labels", "load_or_compute"]


@dataclass(frozen=True)
class SoftLabels:
    """Top-k target probabilities at every scored position of every row.

    Row ``r``'s positions are ``offsets[r]:offsets[r + 1]`` of ``indices``
    and ``probs``, in the order of :class:`~specaudit.mitigation.batches.Batch`
    ``score`` positions.
    """

    indices: torch.Tensor  #: [positions, k] int32 token ids
    probs: torch.Tensor  #: [positions, k] float16 probabilities
    offsets: torch.Tensor  #: [rows + 1] int64
    row_ids: tuple[str, ...]

    def lookup(self, rows: Sequence[TrainingRow]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return indices (long) and probabilities (float32) of ``rows``' positions."""
        where = self._position
        spans = [(int(self.offsets[where[r.id]]), int(self.offsets[where[r.id] + 1])) for r in rows]
        idx = torch.cat([self.indices[a:b] for a, b in spans]).long()
        probs = torch.cat([self.probs[a:b] for a, b in spans]).float()
        return idx, probs

    @functools.cached_property
    def _position(self) -> dict[str, int]:
        # Built once, not at every training step's lookup.
        return {r: i for i, r in enumerate(self.row_ids)}

    @property
    def covered_mass(self) -> float:
        """Mean probability mass the top-k keep (1.0: nothing dropped)."""
        return float(self.probs.float().sum(-1).mean())


@torch.inference_mode()
def compute_soft_labels(
    target,
    rows: Sequence[TrainingRow],
    *,
    k: int,
    pad_id: int,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> SoftLabels:
    """Run the target once over ``rows`` and keep its top-k at scored positions."""
    order = sorted(
        range(len(rows)), key=lambda i: len(rows[i].prompt_ids) + len(rows[i].continuation_ids)
    )  # less padding per batch
    per_row: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    index = {r.language: 0 for r in rows}  # groups are irrelevant here
    for start in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[start : start + batch_size]]
        batch = collate(chunk, index, pad_id).to(target.device)
        logits = target(input_ids=batch.ids, attention_mask=batch.attention).logits
        counts = batch.score.sum(1).tolist()
        top = torch.softmax(logits[batch.score].float(), dim=-1).topk(k, dim=-1)
        values, ids = top.values.cpu(), top.indices.cpu()
        at = 0
        for j, n in enumerate(counts):
            per_row[order[start + j]] = (
                ids[at : at + n].to(torch.int32),
                values[at : at + n].to(torch.float16),
            )
            at += n
        if progress is not None:
            progress(len(chunk))
    lengths = torch.tensor([0] + [len(per_row[i][0]) for i in range(len(rows))])
    return SoftLabels(
        indices=torch.cat([per_row[i][0] for i in range(len(rows))]),
        probs=torch.cat([per_row[i][1] for i in range(len(rows))]),
        offsets=lengths.cumsum(0),
        row_ids=tuple(r.id for r in rows),
    )


def load_or_compute(
    cache_dir: Path,
    settings: dict,
    rows: Sequence[TrainingRow],
    compute: Callable[[], SoftLabels],
) -> tuple[SoftLabels, Path, bool]:
    """Read cached soft labels for ``settings`` and ``rows``, or compute and cache them."""
    settings = {**settings, "rows": [r.id for r in rows]}
    path = Path(cache_dir) / f"soft-labels-{cache_key(settings)}.safetensors"
    if path.is_file():
        t = load_file(path)
        return (
            SoftLabels(t["indices"], t["probs"], t["offsets"], tuple(r.id for r in rows)),
            path,
            True,
        )
    labels = compute()
    with atomic_path(path) as tmp:
        save_file(
            {
                "indices": labels.indices.contiguous(),
                "probs": labels.probs.contiguous(),
                "offsets": labels.offsets.contiguous(),
            },
            str(tmp),
        )
    return labels, path, False

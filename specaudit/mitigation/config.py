"""Settings of one mitigation: which strategy, how long, on what data."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["STRATEGIES", "TRAINED_STRATEGIES", "MitigationConfig", "Strategy"]

Strategy = Literal["scdf", "balanced", "task", "mono", "ngram"]

#: Every strategy, in the order ``--strategy all`` runs them (cheapest first).
STRATEGIES: tuple[str, ...] = ("ngram", "mono", "task", "balanced", "scdf")
#: Strategies that train the neural drafter by gradient descent.
TRAINED_STRATEGIES: tuple[str, ...] = ("scdf", "balanced", "task", "mono")


class MitigationConfig(BaseModel):
    """How to retrain (or replace) the drafter.

    The defaults fit the built-in demo pair on 2 CPU cores: each trained
    strategy stops within ``time_budget`` seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "scdf"
    steps: int = Field(300, ge=1)  #: optimiser steps at most
    lr: float = Field(1e-3, gt=0)  #: peak learning rate (warm-up, then cosine decay)
    batch_size: int = Field(4, ge=1)  #: sequences per group per step
    time_budget: float = Field(900.0, gt=0)  #: seconds of training at most
    seed: int = 0  #: data order, sampling and probe selection
    eval_every: int = Field(25, ge=1)  #: steps between probe evaluations
    patience: int = Field(4, ge=1)  #: evaluations without improvement before stopping
    #: s-CDF: "loss" weights each group's loss by w_i (default, lowest variance);
    #: "sample" draws the minibatch's groups with probability ∝ w_i.
    weighting: Literal["loss", "sample"] = "loss"
    #: Where s-CDF's D̂_i come from: an EMA of minibatch estimates, or the
    #: latest probe-set evaluation.
    weights_from: Literal["ema", "probe"] = "probe"
    #: What s-CDF's D̂_i measure. "cross_entropy" is the paper's D = H(p) + KL;
    #: "kl" drops the target's entropy H(p), which the drafter cannot change:
    #: on a target whose entropy differs by language, CE weights follow that
    #: entropy instead of the drafter's misfit (see the mitigation docs).
    divergence: Literal["kl", "cross_entropy"] = "kl"
    ema_decay: float = Field(0.9, ge=0, lt=1)
    #: Stop criterion: U for s-CDF (on the divergence it weights by), the
    #: groups' mean cross-entropy for the other strategies (what each one
    #: optimises); "auto" picks that.
    stop_on: Literal["auto", "unfairness_u", "unfairness_u_kl", "mean_cross_entropy"] = "auto"
    n_train: int = Field(256, ge=1)  #: training prompts per language and kind
    n_probe: int = Field(16, ge=2)  #: probe prompts per language and kind
    generate_batch_size: int = Field(32, ge=1)  #: prompts per generate() call
    soft_label_k: int = Field(64, ge=1)  #: target probabilities kept per position (top-k)
    mono_seq_len: int = Field(128, ge=8)  #: text window length of the mono strategy
    ngram_order: int = Field(4, ge=1)  #: n of the ngram strategy

    def criterion(self) -> str:
        """Return the metric that early stopping watches."""
        if self.stop_on != "auto":
            return self.stop_on
        if self.strategy != "scdf":
            return "mean_cross_entropy"
        return "unfairness_u_kl" if self.divergence == "kl" else "unfairness_u"

"""Cell health: whether a cell's network can carry the image to its outputs, and whether a seed learned.

A cell is *cut apart* when a main-path layer keeps no weight, or when some class output can no
longer be reached from the input through kept weights (skips and shortcuts count as paths): its
accuracy then says more about the width than about the method. A seed has *failed to learn* when its
final test accuracy is within `chance_margin` points of chance, or when its training loss never fell
below its first epoch's. The facts are recorded per cell (acc.json); the decision is taken where
the cells are read, so that a different margin needs no retraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# what marks an unhealthy seed in tables and claims, by reason
CUT_APART = "cut apart"
AT_CHANCE = "at chance"
LOSS_NEVER_FELL = "loss never fell"
MARKS = {CUT_APART: "†", AT_CHANCE: "‡", LOSS_NEVER_FELL: "§"}
# acc.json fields the decision reads (cells written before they existed read as healthy but unknown)
FIELDS = ["min_layer_kept", "cut_apart", "chance_accuracy", "train_loss_first", "train_loss_best_later"]


@dataclass(frozen=True)
class HealthOptions:
    # A network that learned nothing scores chance give or take the test set's sampling noise (1.6 points
    # on the digits' 355 test images, 0.3 on Fashion-MNIST's 10,000); one that tells apart even two of
    # ten classes scores 20 %. Ten points over chance lies above the first and below the second.
    chance_margin: float = 10.0


def mask_health(model: Any, masks: dict[str, Any]) -> dict[str, Any]:
    """The fewest weights kept by a main-path layer, and how many class outputs the input still reaches.

    Paths follow the network's edges (n2n.models: main path, shortcuts, skips) through kept weights:
    input channel i reaches output channel j of a layer when the mask keeps any weight of w[j, i].
    """
    from n2n.masks import is_skip, prunable_parameters

    names = {id(p): n for n, p in prunable_parameters(model).items()}
    channels = model.activation_channels
    reached = [np.ones(channels[0], dtype=bool)] + [np.zeros(c, dtype=bool) for c in channels[1:]]
    kept_by_layer: dict[str, int] = {}
    for edge in sorted(model.edges(), key=lambda e: e.target):
        src, dst = reached[edge.source], reached[edge.target]
        if edge.weight is None:  # identity: channel c to channel c
            m = min(len(src), len(dst))
            dst[:m] |= src[:m]
            continue
        name = names[id(edge.weight)]
        kept = (masks[name] if name in masks else edge.weight != 0).detach().cpu().numpy().astype(bool)
        if edge.source == edge.target - 1 and not is_skip(name):
            kept_by_layer[name] = int(kept.sum())
        slab = kept.reshape(kept.shape[0], kept.shape[1], -1).any(axis=2)  # (out, in)
        dst |= slab[:, src].any(axis=1)
    weakest = min(kept_by_layer, key=kept_by_layer.get)
    outputs_reached = int(reached[-1].sum())
    return {"min_layer_kept": kept_by_layer[weakest], "min_layer_kept_name": weakest,
            "outputs_reached": outputs_reached, "outputs": int(channels[-1]),
            "cut_apart": bool(kept_by_layer[weakest] == 0 or outputs_reached < channels[-1])}


def learning_record(train_losses: list[float], classes: int) -> dict[str, float]:
    """What the failed-to-learn test reads from a training: chance, first epoch's loss, best later loss."""
    later = [float(x) for x in train_losses[1:]]
    return {"chance_accuracy": 100.0 / classes,
            "train_loss_first": float(train_losses[0]) if len(train_losses) else float("nan"),
            "train_loss_best_later": min(later) if later else float("nan")}


def unhealthy_reasons(cell: dict[str, Any], options: HealthOptions = HealthOptions()) -> list[str]:
    """Why one seed of a cell (its acc.json fields) is unhealthy; empty when it is healthy."""
    def value(key: str) -> Any:
        v = cell.get(key)
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else v

    reasons = []
    if value("cut_apart"):
        reasons.append(CUT_APART)
    chance = value("chance_accuracy")
    if chance is not None and cell["test_accuracy"] <= chance + options.chance_margin:
        reasons.append(AT_CHANCE)
    first, later = value("train_loss_first"), value("train_loss_best_later")
    if first is not None and later is not None and later >= first:
        reasons.append(LOSS_NEVER_FELL)
    return reasons


def health_column(frame: Any, options: HealthOptions = HealthOptions()) -> Any:
    """Per row of a frame of acc.json rows: '' when healthy, else its reasons joined by ', '."""
    import pandas as pd

    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    return frame.apply(lambda r: ", ".join(unhealthy_reasons(r.to_dict(), options)), axis=1)


def format_marks(cut_apart: bool, seeds_at_chance: int, seeds_loss_never_fell: int) -> str:
    """A cell's marks: † for cut apart, ‡k and §k for k seeds at chance or whose loss never fell ('' if none)."""
    marks = MARKS[CUT_APART] if cut_apart else ""
    for reason, k in ((AT_CHANCE, seeds_at_chance), (LOSS_NEVER_FELL, seeds_loss_never_fell)):
        marks += f"{MARKS[reason]}{k}" if k else ""
    return marks


def marks_text(cells: list[dict[str, Any]], options: HealthOptions = HealthOptions()) -> str:
    """A cell's marks over its seeds' acc.json rows, as the tables print them."""
    reasons = [unhealthy_reasons(cell, options) for cell in cells]
    return format_marks(any(CUT_APART in r for r in reasons), sum(AT_CHANCE in r for r in reasons),
                        sum(LOSS_NEVER_FELL in r for r in reasons))


def legend(options: HealthOptions = HealthOptions()) -> str:
    """One line saying what each mark means."""
    return (f"{MARKS[CUT_APART]} cut apart (a main-path layer keeps no weight, or a class output is not reached "
            f"from the input through kept weights); {MARKS[AT_CHANCE]} seeds within {options.chance_margin:g} "
            f"points of chance; {MARKS[LOSS_NEVER_FELL]} seeds whose training loss never fell below the first "
            "epoch's")

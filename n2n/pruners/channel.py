"""rp: the paper's random pruning, an expander graph over channels (Deep Expander Networks, X-Nets, the paper's [17]).

The paper (§3.1): "We apply random sparsification to the reference network [17], in which weights are randomly
pruned at initialization, prior to training, while maintaining rich connectivity throughout the network". The
authors' code builds it with `ExpanderConv2d` (code/models/layers/expandergraphlayer.py, lines 118-152): each
output channel is wired to `expandSize` random input channels and keeps their whole kernels (the channel mask
repeated over the kernel, line 150); `vggexpander.py` and `ResNetexpander.py` keep the first convolution and the
classifier dense (vggexpander.py lines 16-19, 37), and ResNet50 its downsample convolutions.

Here, written once for rp, its N2NSkip skips (n2n.skips) and its ResSkip twin:

- `expander_mask`: whole kernels for a random bipartite graph in which every output channel has the same
  in-degree (±1 where the layer's share of the budget is not a multiple of its output channels), at least 1,
  and the input channels' out-degrees are as equal as they can be, so that where a layer has no more inputs
  than outputs every input feeds some output. X-Nets' second case (`inWCin <= inWCout`, lines 144-148) fixes
  the out-degree instead and so can leave an output without input; with more inputs than kept kernels, some
  inputs feed none, as in its first case. The graph is drawn by the configuration model: each input's stubs,
  shuffled, dealt to the outputs, repeats swapped away.
- `ChannelRandomPruner`: the first convolution and the classifier dense and counted in the budget; the rest of
  the budget spread over the other layers at equal density, in whole kernels, each layer's kernels at least
  one per output channel. The kept total is the budget to within one kernel per layer.
- Ours where the authors differ: their ResNet50 keeps its downsample convolutions dense (ResNetexpander.py lines
  130-131) and counts only the expander layers in its density; at full width those shortcuts hold 11.8 % of
  ResNet50's weights, more than the whole budget at density 0.1. Here every weight counts in the density (the
  paper's Tables report the network's), so the shortcuts are wired as expander graphs like the other layers.
"""

from __future__ import annotations

import random

import torch

from n2n.masks import allocate_counts
from n2n.pruners.base import Pruner


class ChannelBudgetError(ValueError):
    """The density cannot keep every output channel of every pruned layer fed by one whole kernel."""

    def __init__(self, message: str, needed: int = 0) -> None:
        super().__init__(message)
        self.needed = needed  # the weights the layers need at least (0: not a budget's shortfall)


def _kernel(shape: tuple[int, ...]) -> int:
    return int(torch.Size(shape[2:]).numel()) if len(shape) > 2 else 1


def kernel_counts(shapes: list[tuple[int, ...]], total: int, what: str = "layers") -> list[int]:
    """Whole kernels per layer keeping about `total` weights at equal density: at least one per output channel
    and at most out x in, the kept weights within one kernel per layer of `total`."""
    floors = [s[0] for s in shapes]
    caps = [s[0] * s[1] for s in shapes]
    kernels = [_kernel(s) for s in shapes]
    least = sum(f * k for f, k in zip(floors, kernels))
    if total < least:
        raise ChannelBudgetError(
            f"the paper's RP keeps whole kernels with every output channel fed: its {what} need "
            f"at least {least} weights, and the density leaves {total}; raise the density or the width", least)
    fixed: dict[int, int] = {}
    while True:  # equal density over the layers not held at their floor
        free = [i for i in range(len(shapes)) if i not in fixed]
        left = total - sum(fixed[i] * kernels[i] for i in fixed)
        weights = allocate_counts([caps[i] * kernels[i] for i in free], max(0, min(left, sum(caps[i] * kernels[i]
                                                                                         for i in free))))
        wanted = {i: w / kernels[i] for i, w in zip(free, weights)}
        low = {i for i, k in wanted.items() if k < floors[i]}
        if not low:
            break
        fixed.update({i: floors[i] for i in low})
    counts = [fixed.get(i, 0) for i in range(len(shapes))]
    for i, k in wanted.items():
        counts[i] = min(caps[i], max(floors[i], int(round(k))))
    return counts


def _balanced_bipartite(out: int, inp: int, edges: int, generator: torch.Generator) -> torch.Tensor:
    """An (out, inp) bool matrix with `edges` Trues: row sums within one of each other, column sums too, drawn by
    the configuration model (each column's stubs shuffled and dealt to the rows, repeats swapped away). A graph
    denser than half is drawn as the complement of a sparse one, where swaps always find room."""
    if 2 * edges > out * inp:
        return ~_balanced_bipartite(out, inp, out * inp - edges, generator)
    degree = torch.full((out,), edges // out, dtype=torch.long)
    degree[torch.randperm(out, generator=generator)[: edges % out]] += 1
    uses = torch.full((inp,), edges // inp, dtype=torch.long)
    uses[torch.randperm(inp, generator=generator)[: edges % inp]] += 1
    stubs = torch.repeat_interleave(torch.arange(inp), uses)[torch.randperm(edges, generator=generator)].tolist()
    owner = torch.repeat_interleave(torch.arange(out), degree).tolist()
    rows: list[set[int]] = [set() for _ in range(out)]
    repeats = []
    for position, (j, i) in enumerate(zip(owner, stubs)):
        if i in rows[j]:
            repeats.append(position)
        else:
            rows[j].add(i)
    pending = set(repeats)
    draw = random.Random(int(torch.randint(2**62, (1,), generator=generator)))  # seeded by the cell's generator
    for position in repeats:  # swap each repeated stub with a placed one that fits both rows
        j, i = owner[position], stubs[position]
        for _ in range(100 * edges):
            other = draw.randrange(edges)
            k, m = owner[other], stubs[other]
            if other not in pending and k != j and m not in rows[j] and i not in rows[k]:
                rows[k].discard(m)
                rows[k].add(i)
                rows[j].add(m)
                stubs[position], stubs[other] = m, i
                pending.discard(position)
                break
        else:
            raise RuntimeError(f"could not wire {out} x {inp} channels with {edges} edges without repeats")
    matrix = torch.zeros(out, inp, dtype=torch.bool)
    for j, row in enumerate(rows):
        matrix[j, list(row)] = True
    return matrix


def expander_mask(shape: tuple[int, ...], kernels: int, generator: torch.Generator) -> torch.Tensor:
    """A bool mask of `shape` (out, in, *kernel) keeping `kernels` whole kernels: every output channel fed by
    kernels // out or one more distinct input channels, the inputs' out-degrees within one of each other."""
    out, inp = shape[0], shape[1]
    if not out <= kernels <= out * inp:
        raise ChannelBudgetError(f"{kernels} kernels cannot feed each of {out} outputs from {inp} inputs")
    channel = _balanced_bipartite(out, inp, kernels, generator)
    return channel.view(out, inp, *([1] * (len(shape) - 2))).expand(shape).clone()


def channel_masks(shapes: dict[str, tuple[int, ...]], count: int, generator: torch.Generator,
                  dense: frozenset[str] = frozenset(), what: str = "layers") -> dict[str, torch.Tensor]:
    """Masks for layers of these shapes keeping about `count` weights: the `dense` ones whole, the others as
    expander graphs over their channels at equal density (whole kernels, within one kernel per layer)."""
    masks = {name: torch.ones(shape, dtype=torch.bool) for name, shape in shapes.items() if name in dense}
    sparse = {name: shape for name, shape in shapes.items() if name not in dense}
    left = count - sum(int(m.sum()) for m in masks.values())
    for (name, shape), kernels in zip(sparse.items(), kernel_counts(list(sparse.values()), left, what)):
        masks[name] = expander_mask(shape, kernels, generator)
    return {name: masks[name] for name in shapes}


class ChannelRandomPruner(Pruner):
    """The paper's RP: expander graphs over channels, the first convolution and the classifier dense."""

    scope = "layer"
    channel_level = True  # its N2NSkip skips are channel-level too (n2n.skips)

    def prune(self, model, params, data, generator, count):
        names = list(params)
        dense = frozenset((names[0], names[-1]))  # the first convolution and the classifier, as the authors do
        return channel_masks({n: tuple(p.shape) for n, p in params.items()}, count, generator, dense,
                             "main-path layers")

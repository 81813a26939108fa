"""Density and coverage (Naeem, Oh, Uh, Choi & Yoo, ICML 2020), k = 5: fidelity and diversity that,
unlike precision/recall, are not thrown off by outliers among the real samples.

With B_i the ball around real sample i reaching its k-th nearest real neighbour (as in precision_recall.py),
N generated and M real samples:

    density  = 1 / (k N) * sum over generated j of (number of real balls B_i holding j)
                 how many real neighbourhoods a fake sits in, on average, over k; about 1 when the
                 two sets come from one distribution, above 1 where fakes crowd dense real regions
    coverage = share of real samples i whose ball B_i holds at least one generated sample

Inside means strictly closer than the radius (<), as in the authors' released `prdc` package, which
`tests/metrics/test_density_coverage.py` compares against (precision/recall count the boundary, as their
paper's code does). Same features, float64 and row batching as precision_recall.py.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..errors import ConfigError
from . import METRICS
from ._arrays import as_float64_tensor, check_min_samples, check_same_width
from .inputs import EvalInputs
from .precision_recall import knn_cards, kth_neighbour_radii
from .protocol import ProtocolCard


class DCResult(NamedTuple):
    density: float
    coverage: float
    k: int


def density_coverage(gen_features, ref_features, k: int = 5, batch_size: int = 4096) -> DCResult:
    """Density and coverage of generated (N, D) against real (M, D) features with k-NN balls round the real ones."""
    if k < 1:
        raise ConfigError(f"density/coverage needs k >= 1, got {k}")
    gen = as_float64_tensor(gen_features, "generated features")
    ref = as_float64_tensor(ref_features, "reference features")
    check_same_width(gen, ref, "generated and reference features")
    check_min_samples(ref, k + 1, "reference features", f"a k-NN radius with k={k} needs k other samples")
    check_min_samples(gen, 1, "generated features", "density averages over generated samples")
    radii = kth_neighbour_radii(ref, k, batch_size)
    # Balls holding each generated sample, summed over batches of generated rows (memory: batch x M).
    held = sum((torch.cdist(gb, ref) < radii[None, :]).sum().item() for gb in gen.split(batch_size))
    # A real ball is covered when its nearest generated sample lies inside it (batches of real rows).
    covered = torch.cat([
        torch.cdist(rb, gen).min(1).values < rr for rb, rr in zip(ref.split(batch_size), radii.split(batch_size))
    ])  # fmt: skip
    return DCResult(held / (k * len(gen)), covered.double().mean().item(), k)


@METRICS.register("dc")
def dc_metric(inputs: EvalInputs, k: int = 5) -> list[ProtocolCard]:
    """Density and coverage of evaluator features (Naeem et al., 2020), k = 5: cards 'density', 'coverage'."""
    inputs.require("dc", "gen_features", "ref_features")
    result = density_coverage(inputs.gen_features, inputs.ref_features, k)
    return knn_cards(inputs, "density/coverage", {"density": result.density, "coverage": result.coverage}, k,
                     "k-NN balls from few samples are wide, which inflates coverage")  # fmt: skip

"""A picture of a schedule: lr and momentum over training, phase boundaries, each phase's optimizer."""
from __future__ import annotations

import numpy as np

from .schedule import Schedule


def plot_schedule(schedule: Schedule, path: str, title: str = "", log_lr: bool = False) -> None:
    """Write a PNG (or any format matplotlib knows by the extension) of `schedule` to `path`."""
    # The object-oriented Figure needs no pyplot state and no display backend.
    from matplotlib.figure import Figure

    steps, lr, momentum = schedule.curves()
    has_momentum = not np.all(np.isnan(momentum))
    fig = Figure(figsize=(9, 5.5 if has_momentum else 3.5), constrained_layout=True)
    axes = fig.subplots(2 if has_momentum else 1, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].plot(steps, lr, color="tab:blue")
    axes[0].set_ylabel("learning rate")
    if log_lr and np.all(lr > 0):
        axes[0].set_yscale("log")
    if has_momentum:
        axes[1].plot(steps, momentum, color="tab:orange")
        axes[1].set_ylabel("momentum / Adam beta1")
    axes[-1].set_xlabel("step")
    for ax in axes:
        for start in schedule.starts[1:]:
            ax.axvline(start, color="grey", linestyle="--", linewidth=0.8)
        ax.grid(alpha=0.3)
    # Label each phase at the top: its name (if any), optimizer, and data/size when it sets them.
    for phase, start, n in zip(schedule.phases, schedule.starts, schedule.lengths):
        label = phase.optimizer + (f"\n{phase.name}" if phase.name else "")
        if phase.data or phase.image_size:
            label += f"\n{phase.data or ''}{' @' + str(phase.image_size) if phase.image_size else ''}"
        axes[0].text(start + n / 2, 1.0, label, transform=axes[0].get_xaxis_transform(), ha="center", va="bottom", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)

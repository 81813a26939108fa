"""`ganforge fit-evaluator --data NAME`: train (once) the offline evaluator of a dataset."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "fit-evaluator", help="train the offline evaluator (a small classifier) of a dataset, cached",
        description="Train a classifier on the dataset's training split and cache it per dataset and version; "
        "`ganforge eval` then uses its features for FID/KID/PR and its predictions for mode coverage. "
        "stacked-mnist uses the mnist5k evaluator per channel; unlabelled data have none (use --inception-weights).",
    )  # fmt: skip
    p.add_argument("--data", required=True, help="dataset name or class-per-folder image folder")
    p.add_argument("--data-root", help="where torchvision datasets are")
    p.add_argument("--model", default="darknet-small", help="classifier (`ganforge classify models`; default darknet-small)")
    p.add_argument("--epochs", type=float, help="training epochs (default: the model's course, 5 for darknet-small)")
    p.add_argument("--cache-dir", help="cache root (default $GANFORGE_CACHE or ~/.cache/ganforge)")
    p.add_argument("--force", action="store_true", help="retrain even when a cached evaluator exists")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics.offline_evaluator import fit_evaluator

    folder, facts = fit_evaluator(args.data, args.cache_dir, args.model, args.epochs, args.force, args.data_root, args.device)
    print(f"evaluator:    {folder}")
    print(f"data:         {facts['data']} (version {facts['version']}; classifier trained on {facts['source']}"
          f"{', applied per channel' if facts['per_channel'] else ''})")  # fmt: skip
    print(f"model:        {facts['model']}, held-out accuracy {100 * facts['test_accuracy']:.2f}% "
          f"({facts['train_seconds']} s to train)")  # fmt: skip
    return 0

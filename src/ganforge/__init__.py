"""ganforge: the classic GAN papers as presets, on PyTorch.

The Python API, for notebooks::

    import ganforge as gf
    cfg = gf.resolve_config("dcgan-demo", [{"steps": 500}])   # preset <- overrides
    result = gf.train(cfg)                                    # a new run folder under runs/
    run = gf.load_run(result.run_dir)                         # G (EMA when kept), D, config
    images = gf.generate(run, n=64, seed=0)                   # (64, C, H, W) in [-1, 1]

Building blocks by name: `get_dataset`, `build_models`, `get_loss`; what exists: `list_presets`,
`list_datasets`, `MODELS.list()`, `LOSSES.list()`.
"""
from .config import Config
from .data import get_dataset, list_datasets
from .losses import LOSSES, get_loss
from .nets import MODELS, build_models
from .presets import list_presets, resolve_config
from .runs import generate, load_run, resume, train

__version__ = "0.1.0"
__all__ = [
    "Config", "get_dataset", "list_datasets", "LOSSES", "get_loss", "MODELS", "build_models",
    "list_presets", "resolve_config", "generate", "load_run", "resume", "train",
]  # fmt: skip

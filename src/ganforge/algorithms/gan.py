"""The `gan` algorithm: one generator, one discriminator, k D-steps per G-step (the engine's own loop)."""
from ..train.engine import Trainer
from . import ALGORITHMS

ALGORITHMS.register("gan")(Trainer)

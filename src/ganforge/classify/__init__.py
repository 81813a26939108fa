"""The classifier trainer: tutorial models (softmax regression, MLP, CNN, Darknet) trained through phases.

    from . import ClassifyConfig, train, resume, load_classifier, evaluate_run
"""
from .config import ClassifyConfig
from .models import CLASSIFIERS, build_classifier
from .trainer import ClassifierTrainer, ClassifyResult, evaluate_run, load_classifier, resume, train

__all__ = [
    "CLASSIFIERS",
    "ClassifierTrainer",
    "ClassifyConfig",
    "ClassifyResult",
    "build_classifier",
    "evaluate_run",
    "load_classifier",
    "resume",
    "train",
]

"""Weight initialisations named in the papers."""
import torch.nn as nn


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2015: 'All weights were initialized from a zero-centered Normal distribution with
    standard deviation 0.02' (BatchNorm scales around 1, as in pytorch/examples)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def glorot_init(module: nn.Module) -> None:
    """Glorot & Bengio 2010 (uniform, variance 2 / (fan_in + fan_out)) weights and zero biases on every
    Conv2d/ConvTranspose2d/Linear: TF-slim's layer defaults, so what reference code written with slim
    (e.g. carpedm20/BEGAN-tensorflow) trains from. It keeps a plain stack's activation scale roughly
    constant with depth, where torch's default (variance 1 / (3 fan_in)) shrinks it about 3x per layer."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

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

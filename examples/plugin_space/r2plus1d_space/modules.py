"""PyTorch modules of R(2+1)D.  Imported only when a network is built (torch is heavy)."""

from __future__ import annotations

import torch
from torch import nn

#: Standard deviation of the classifier's initial weights (torchvision's video ResNets).
CLASSIFIER_INIT_STD = 0.01


class BasicBlock(nn.Module):
    """Residual block: ``relu(branch(x) + shortcut(x))``, the shortcut the identity where shapes agree."""

    def __init__(self, *, branch: nn.Sequential, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.branch, self.shortcut = branch, shortcut
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.act(self.branch(x) + identity)


class PoolHead(nn.Module):
    """Global average pool over time and space, dropout, linear classifier."""

    def __init__(self, *, dropout: float, classifier: nn.Linear) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))


class R2Plus1DNet(nn.Module):
    """Stem, residual stages, head: input (batch, 3, frames, crop, crop) -> logits (batch, classes)."""

    def __init__(self, *, stem: nn.Module, stages: nn.Sequential, head: nn.Module) -> None:
        super().__init__()
        self.stem, self.stages, self.head = stem, stages, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def init_weights(model: nn.Module) -> None:
    """torchvision's video ResNet initialisation: Kaiming (fan-out) convs, small normal classifier, zero biases."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=CLASSIFIER_INIT_STD)
            nn.init.zeros_(module.bias)

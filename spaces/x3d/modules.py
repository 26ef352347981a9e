"""PyTorch modules of X3D.  Imported only when a network is built (torch is heavy)."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    """Channel gating: global pool -> 1x1(x1) conv -> ReLU -> 1x1(x1) conv -> sigmoid -> scale.

    ``conv`` and ``pool`` are the 3D layers in a video network, the 2D ones in an image network.
    """

    def __init__(
        self,
        *,
        channels: int,
        reduced: int,
        activation: type[nn.Module],
        conv: type[nn.Module] = nn.Conv3d,
        pool: type[nn.Module] = nn.AdaptiveAvgPool3d,
    ) -> None:
        super().__init__()
        self.pool = pool(1)
        self.fc1 = conv(channels, reduced, kernel_size=1, bias=True)
        self.act = activation()
        self.fc2 = conv(reduced, channels, kernel_size=1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class X3DStem(nn.Module):
    """Spatial 1x3x3 conv, then depthwise temporal conv, then one BN + activation."""

    def __init__(self, *, conv_xy: nn.Module, conv_t: nn.Module, norm: nn.Module, act: nn.Module) -> None:
        super().__init__()
        self.conv_xy, self.conv_t, self.norm, self.act = conv_xy, conv_t, norm, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv_t(self.conv_xy(x))))


class X3DBlock(nn.Module):
    """Bottleneck residual block with a depthwise 3x3x3 conv, optional SE, Swish inside."""

    def __init__(
        self,
        *,
        branch: nn.Sequential,
        shortcut: nn.Module | None,
        act: nn.Module,
    ) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.act(self.branch(x) + identity)


class X3DHead(nn.Module):
    """conv5 (1x1x1, BN, ReLU) -> global average pool -> fc1 (1x1x1, ReLU) -> dropout -> classifier."""

    def __init__(
        self,
        *,
        conv5: nn.Sequential,
        fc1: nn.Sequential,
        dropout: float,
        classifier: nn.Linear,
        pool: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv5 = conv5
        self.pool = pool if pool is not None else nn.AdaptiveAvgPool3d(1)
        self.fc1 = fc1
        self.dropout = nn.Dropout(dropout)
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(self.pool(self.conv5(x)))
        return self.classifier(self.dropout(torch.flatten(x, 1)))


class X3DNet(nn.Module):
    """Stem, residual stages, head: input (batch, 3, frames, crop, crop) -> logits (batch, classes).

    The image counterpart takes (batch, 3, crop, crop): the same three parts built from 2D layers.
    """

    def __init__(self, *, stem: nn.Module, stages: nn.Sequential, head: nn.Module) -> None:
        super().__init__()
        self.stem, self.stages, self.head = stem, stages, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))

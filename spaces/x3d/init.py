"""Weight initialisation of the reference X3D code (SlowFast ``init_weights``).

Batch norms keep their constructor values (weight 1, bias 0), except the last
BN of each residual branch, which the block builder zero-initialises.  The
same rule serves the 2D image counterpart (``spaces.image``).
"""

from __future__ import annotations

from torch import nn

#: Standard deviation of the classifier's initial weights.
CLASSIFIER_INIT_STD = 0.01


def init_weights(model: nn.Module) -> None:
    """Kaiming (fan-out) convolutions, a small normal classifier, zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=CLASSIFIER_INIT_STD)
            nn.init.zeros_(module.bias)

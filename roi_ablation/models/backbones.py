"""ResNet trunks for the detector: torchvision's ResNets, or small ones for the CPU presets.

Every trunk has torchvision's ResNet attribute names (conv1, bn1, layer1..layer4), so one
splitting rule serves them all: C4 ends after layer3 (stride 16) and hands layer4 (res5)
to the box head; C5 ends after layer4 (stride 32); FPN taps layer1..layer4.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.models import get_weight, resnet
from torchvision.ops import FrozenBatchNorm2d

from .config import NORMS, TRUNK_STAGES, check_trainable_layers

NormLayer = Callable[[int], nn.Module]
TORCHVISION_DEPTHS = {18: resnet.resnet18, 34: resnet.resnet34, 50: resnet.resnet50, 101: resnet.resnet101}


def norm_layer(norm: str) -> NormLayer:
    """BatchNorm, frozen BatchNorm (pretrained weights, small batches) or GroupNorm (training from scratch)."""
    if norm == "bn":
        return nn.BatchNorm2d
    if norm == "frozen_bn":
        return FrozenBatchNorm2d
    if norm == "gn":
        return lambda channels: nn.GroupNorm(max(1, min(32, channels // 8)), channels)
    raise ValueError(f"unknown model.backbone.norm {norm!r}; valid: {', '.join(NORMS)}")


def small_resnet(widths: Sequence[int], blocks: Sequence[int], norm: NormLayer) -> nn.Module:
    """A ResNet-18-like trunk with the given stage widths (BasicBlocks), for CPU presets."""
    trunk = nn.Module()
    trunk.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    trunk.bn1 = norm(widths[0])
    trunk.relu = nn.ReLU(inplace=True)
    trunk.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    in_channels = widths[0]
    for stage, (width, count) in enumerate(zip(widths, blocks), start=1):
        stride = 1 if stage == 1 else 2
        downsample = None
        if stride != 1 or in_channels != width:
            downsample = nn.Sequential(nn.Conv2d(in_channels, width, 1, stride=stride, bias=False), norm(width))
        layers = [resnet.BasicBlock(in_channels, width, stride, downsample, norm_layer=norm)]
        layers += [resnet.BasicBlock(width, width, norm_layer=norm) for _ in range(count - 1)]
        setattr(trunk, f"layer{stage}", nn.Sequential(*layers))
        in_channels = width
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return trunk


def load_weights(trunk: nn.Module, weights: str) -> None:
    """Load a torchvision weights enum name (downloaded by torchvision) or a local state-dict file."""
    path = Path(weights).expanduser()
    if path.suffix in (".pth", ".pt", ".bin") or path.exists() or "/" in weights:
        if not path.is_file():
            raise ValueError(
                f"model.backbone.weights={weights}: no such file; give a local state-dict file, "
                "a torchvision weights name such as ResNet50_Weights.IMAGENET1K_V1, or null to train from scratch")
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        try:
            state = get_weight(weights).get_state_dict(progress=False)
        except (ValueError, KeyError) as error:
            raise ValueError(f"model.backbone.weights={weights!r} is neither a file nor a torchvision weights name "
                             "(e.g. ResNet50_Weights.IMAGENET1K_V1)") from error
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = trunk.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("fc.")]:
        raise ValueError(f"model.backbone.weights={weights}: does not fit the trunk (missing {missing[:5]}, unexpected {unexpected[:5]})")


def freeze(trunk: nn.Module, trainable_layers: int) -> None:
    """Train only the last `trainable_layers` of conv1, layer1..layer4, as torchvision's detection models do."""
    check_trainable_layers(trainable_layers)
    train = TRUNK_STAGES[:trainable_layers] + (("bn1",) if trainable_layers == len(TRUNK_STAGES) else ())  # all: the stem norm too
    for name, parameter in trunk.named_parameters():
        if not name.startswith(train):
            parameter.requires_grad_(False)


def resnet_trunk(
    depth: int | None = 50,
    widths: Sequence[int] | None = None,
    blocks: Sequence[int] = (2, 2, 2, 2),
    weights: str | None = None,
    norm: str = "auto",
    trainable_layers: int = 3,
) -> nn.Module:
    """A torchvision ResNet of `depth`, or a small one of `widths`; pretrained trunks are partly frozen.

    `norm="auto"` follows torchvision's detection models: frozen BN with pretrained
    weights, ordinary BN without. Without weights every layer trains.
    """
    resolved = norm if norm != "auto" else ("frozen_bn" if weights else "bn")
    layer = norm_layer(resolved)
    if widths is not None:
        trunk = small_resnet(widths, blocks, layer)
    elif depth in TORCHVISION_DEPTHS:
        trunk = TORCHVISION_DEPTHS[depth](weights=None, norm_layer=layer)
        del trunk.fc, trunk.avgpool
    else:
        raise ValueError(f"model.backbone.depth={depth!r}; valid: {sorted(TORCHVISION_DEPTHS)} (or set model.backbone.widths)")
    if weights:
        load_weights(trunk, weights)
        freeze(trunk, trainable_layers)
    return trunk


def stage_channels(trunk: nn.Module, stage: str) -> int:
    """Output channels of a stage (its last block's last norm layer)."""
    block = getattr(trunk, stage)[-1]
    last_norm = block.bn3 if hasattr(block, "bn3") else block.bn2
    return int(last_norm.weight.shape[0])


def stem_through(trunk: nn.Module, last_stage: str) -> nn.Sequential:
    """The trunk from its stem up to and including `last_stage`, as one module with `out_channels`."""
    names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    body = nn.Sequential(*(getattr(trunk, n) for n in names[: names.index(last_stage) + 1]))
    # torch types Module.__setattr__ for tensors and modules only; a plain int attribute is fine
    body.out_channels = stage_channels(trunk, last_stage)  # type: ignore[assignment]
    return body


__all__ = ["freeze", "load_weights", "norm_layer", "resnet_trunk", "small_resnet", "stage_channels", "stem_through"]

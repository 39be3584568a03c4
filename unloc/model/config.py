"""Model configuration: frozen dataclasses that hold the schema and the defaults of every UnLoc part (paper §3).

Defaults are UnLoc-B as in the official ActivityNet TAL-B config (scenic/projects/unloc/configs, see
reference/unloc-official.md §1.7): CLIP ViT-B/16 towers, a 6-layer 512-wide fusion transformer, a 4-level
ViTDet-style pyramid with stride 2, and shared 4-conv-layer heads with prior biases -5 / 2. Three defaults keep this
port's original choices, which the paper configs (`unloc/resources/paper.yaml`) replace by the official ones: the
frame token ('cls', one shared CLIP CLS; official 'frame_cls' / 'gap'), the strided pyramid padding ('centred';
official 'same') and the text projection ('learned' everywhere; official TAL-L / COIN-L: 'clip').
`unloc_b()`, `unloc_l()` and `tiny()` return complete presets; change them with `dataclasses.replace`.
`build.build_model` is the only place where these fields become constructor arguments.
"""

from __future__ import annotations

import copy
import typing
from dataclasses import dataclass, field
from typing import Literal

from unloc.schema import check_literals

FrameToken = Literal["cls", "mean", "frame_cls", "gap"]
FRAME_TOKENS = typing.get_args(FrameToken)
TextInput = Literal["one", "all"]
TEXT_INPUTS = typing.get_args(TextInput)
FusionMode = Literal["mid", "late", "no_text"]
FUSION_MODES = typing.get_args(FusionMode)
PyramidKind = Literal["none", "vitdet", "fpn"]
PYRAMID_KINDS = typing.get_args(PyramidKind)
ConvPadding = Literal["centred", "same"]  # = unloc.model.layers.CONV_PADDINGS
CONV_PADDINGS = typing.get_args(ConvPadding)
HeadTask = Literal["localization", "segmentation"]
HEAD_TASKS = typing.get_args(HeadTask)
TextProjection = Literal["learned", "clip"]
TEXT_PROJECTIONS = typing.get_args(TextProjection)


@dataclass(frozen=True)
class TowerConfig:
    """The CLIP image and text towers (one open_clip model; paper §3.1).

    `arch` is an open_clip model name (e.g. 'ViT-B-16') or a model config dict in open_clip's JSON layout
    ({"embed_dim", "vision_cfg", "text_cfg"}) for a custom architecture; the dict is treated as read-only.
    `pretrained` is None (random init), an open_clip tag such as 'openai' (downloaded by open_clip; a tag trained
    with QuickGELU switches it on), or the path of a local .safetensors / .pt state_dict. For local OpenAI weights
    pick the matching arch ('ViT-B-16-quickgelu').
    """

    arch: str | dict = "ViT-B-16"  # official: 'B/16x1' image tower, CLIP text tower (reference §1.2-1.3)
    pretrained: str | None = "openai"
    frame_token: FrameToken = "cls"  # 'cls' / 'mean': one shared CLIP CLS (its output, or the patch mean with CLS in the
    # sequence); official: 'frame_cls' (B: a learnable CLS per frame position) and 'gap' (L: patch mean, no CLS)
    frame_positions: int = 0  # 'frame_cls' only: learnable CLS tokens (clips of other lengths interpolate them)
    freeze_image: bool = False  # ANet TAL-B trains the video tower ...
    freeze_text: bool = True  # ... and freezes the text tower (reference §4)
    context_length: int = 16  # tokens per text: 16 for class names, 32 for captions (reference §1.3)

    def __post_init__(self) -> None:
        check_literals(self)
        if (self.frame_token == "frame_cls") != (self.frame_positions > 0):
            raise ValueError(f"frame_positions={self.frame_positions}: frame_token 'frame_cls' needs >= 1 (the "
                             "official configs: their frame count), other frame tokens 0")
        if not isinstance(self.arch, (str, dict)):
            raise TypeError(f"arch must be an open_clip model name or a config dict, got {type(self.arch).__name__}")
        if self.context_length < 2:
            raise ValueError(f"context_length={self.context_length} leaves no room for BOS and EOS")


@dataclass(frozen=True)
class FusionConfig:
    """The video-text fusion transformer (paper §3.2; reference §1.4).

    `mode`: 'mid' fuses every (video, text) pair in the encoder (UnLoc); 'late' encodes frames only and scores each
    position by a scaled cosine with the text embedding; 'no_text' encodes frames only and predicts `num_classes`
    logits per position from a linear layer.
    """

    layers: int = 6
    width: int = 512  # also the projection size of both towers
    heads: int = 8
    mlp_dim: int = 2048
    dropout: float = 0.0  # every official config uses 0.0 for all three rates
    attention_dropout: float = 0.0
    drop_path: float = 0.0  # stochastic depth, growing linearly to this rate at the last layer
    text_input: TextInput = "one"  # 'one' = the pooled EOS token (every official config); 'all' = every text token
    mode: FusionMode = "mid"
    num_classes: int = 0  # mode='no_text' only; 0 = the training data's class count (set by the experiment runner)

    def __post_init__(self) -> None:
        check_literals(self)
        if self.layers < 1 or self.width % self.heads:
            raise ValueError(f"fusion needs layers >= 1 and width divisible by heads, got {self}")
        if self.mode != "no_text" and self.num_classes:
            raise ValueError("num_classes is only used by mode='no_text'")
        if self.num_classes < 0:
            raise ValueError(f"num_classes={self.num_classes} must be >= 0 (0 with 'no_text': set from the data)")
        if self.mode == "late" and self.text_input != "one":
            raise ValueError("late fusion compares one text embedding per query: use text_input='one'")


@dataclass(frozen=True)
class PyramidConfig:
    """The temporal feature pyramid on the fused frame tokens (paper §3.2; reference §1.5).

    'none': one level (stride 1) with a final LayerNorm; 'vitdet': strided depthwise convs chained from the last fusion
    layer; 'fpn': levels taken after the fusion layers `fpn_layers`, max-pooled between them, with a top-down path.
    `padding` of the strided 'vitdet' convs: 'centred' = output i centred on input i * stride, on its anchor (ours);
    'same' = Flax 'SAME' as the official code, (0, 1) on even lengths, so level l's output i is centred at
    i * 2^l + 2^l - 1 while its anchor stays i * 2^l (the paper configs; `unloc.model.layers`).
    """

    kind: PyramidKind = "vitdet"  # official 'simple_pyramid'
    num_levels: int = 4  # T=128 -> 128/64/32/16
    stride: int = 2
    fpn_layers: tuple[int, ...] = (2, 3, 4, 5)  # 0-based fusion layer indices, one per level (fpn only)
    padding: ConvPadding = "centred"  # strided convs: 'centred' (anchor-aligned) or 'same' (official Flax alignment)

    def __post_init__(self) -> None:
        check_literals(self)
        if self.stride < 2 or self.num_levels < 1:
            raise ValueError(f"pyramid needs stride >= 2 and num_levels >= 1, got {self}")
        if self.kind == "none" and self.num_levels != 1:
            raise ValueError("pyramid kind 'none' has exactly one level: set num_levels=1")
        if self.kind == "fpn":
            layers = tuple(self.fpn_layers)
            if len(layers) != self.num_levels or list(layers) != sorted(set(layers)) or layers[0] < 0:
                raise ValueError(f"fpn_layers={layers} must be {self.num_levels} increasing layer indices")


@dataclass(frozen=True)
class HeadConfig:
    """Relevancy and regression heads (paper §3.3; reference §1.6).

    `num_conv_layers` (1-4; 0 = the linear layer alone, the official segmentation head) blocks of
    LayerNorm -> Conv1d k3 -> ReLU precede the final linear layer. 'segmentation' keeps the relevancy branch only.
    """

    num_conv_layers: int = 4
    weight_sharing: bool = True  # one head for all levels + learned per-level scale and shift
    cls_bias_init: float = -5.0  # TAL: prior sigmoid(-5) ~ 0.0067; MR 0.0; segmentation -6.6
    reg_bias_init: float = 2.0
    task: HeadTask = "localization"

    def __post_init__(self) -> None:
        check_literals(self)
        if not 0 <= self.num_conv_layers <= 4:
            raise ValueError(f"num_conv_layers={self.num_conv_layers} is outside 0..4")


@dataclass(frozen=True)
class ModelConfig:
    """The whole UnLoc model. `chunk_size` pairs are fused at a time (0 = all pairs at once); with
    `checkpoint_chunks` each chunk is recomputed in the backward pass, so training memory holds one chunk.
    `checkpoint_towers` does the same per transformer block inside the trainable CLIP towers (open_clip's
    `set_grad_checkpointing`); it changes memory and time only, never the results."""

    tower: TowerConfig = field(default_factory=TowerConfig)
    text_tower: TowerConfig | None = None  # None = the paired CLIP text tower; set for an unpaired text encoder
    fusion: FusionConfig = field(default_factory=FusionConfig)
    pyramid: PyramidConfig = field(default_factory=PyramidConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    chunk_size: int = 0
    checkpoint_chunks: bool = False  # official TAL/COIN use remat for the same reason (reference §1.2)
    checkpoint_towers: bool = False  # recompute the CLIP towers' blocks in backward (official remat_block, TAL/COIN)
    text_projection: TextProjection = "learned"  # 'learned': a fresh bias-free linear layer into the fusion width (official B
    # and MR configs); 'clip': no new layer, CLIP's own text embedding enters the fusion as it is (official TAL-L and
    # COIN-L read fixed precomputed class embeddings; needs CLIP's embedding size = fusion width, e.g. ViT-L-14: 768)

    def __post_init__(self) -> None:
        if self.chunk_size < 0:
            raise ValueError(f"chunk_size={self.chunk_size} must be >= 0")
        check_literals(self)
        if self.text_projection == "clip" and self.fusion.mode == "no_text":
            raise ValueError("text_projection 'clip' needs a text path: fusion mode 'mid' or 'late'")
        if self.pyramid.kind == "fpn" and self.pyramid.fpn_layers[-1] != self.fusion.layers - 1:
            raise ValueError(
                f"fpn_layers={self.pyramid.fpn_layers} must end at the last fusion layer ({self.fusion.layers - 1})"
            )
        if self.head.task == "segmentation" and self.pyramid.kind != "none":
            raise ValueError("segmentation uses the bottom level only: set pyramid kind='none', num_levels=1")


def unloc_b() -> ModelConfig:
    """UnLoc-B as the official ANet TAL-B config (CLIP ViT-B/16, 6x512 fusion, 4-level ViTDet pyramid)."""
    return ModelConfig()


def unloc_l() -> ModelConfig:
    """UnLoc-L as the official ANet TAL-L config (CLIP ViT-L/14 with mean frame tokens, 6x768 fusion, 5 levels)."""
    return ModelConfig(
        tower=TowerConfig(arch="ViT-L-14", frame_token="mean"),
        fusion=FusionConfig(width=768, heads=12, mlp_dim=3072),
        pyramid=PyramidConfig(num_levels=5),
    )


TINY_ARCH = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "patch_size": 16, "layers": 1, "width": 32, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def tiny() -> ModelConfig:
    """A random-init model small enough for tests and CPU smoke runs (milliseconds per forward)."""
    return ModelConfig(
        tower=TowerConfig(arch=copy.deepcopy(TINY_ARCH), pretrained=None, freeze_text=False),
        fusion=FusionConfig(layers=3, width=32, heads=2, mlp_dim=64),
        pyramid=PyramidConfig(num_levels=3, fpn_layers=(0, 1, 2)),  # kind='fpn' works as a one-field change
        head=HeadConfig(num_conv_layers=2),
    )


__all__ = [
    "FusionConfig",
    "HeadConfig",
    "ModelConfig",
    "PyramidConfig",
    "TowerConfig",
    "tiny",
    "unloc_b",
    "unloc_l",
]

"""The StyleGAN2 networks of Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, "Analyzing and
Improving the Image Quality of StyleGAN" (CVPR 2020, arXiv:1912.04958), read from the authors' PyTorch
code (github NVlabs/stylegan2-ada-pytorch: training/networks.py, training/loss.py, train.py).

  G = mapping (z -> w) then synthesis (w's -> image), with a skip-connection output:
    mapping:   z (N, z_dim) -> normalise to unit second moment -> `mapping_layers` x [FC + lrelu] (lr x 0.01)
               -> w (N, w_dim), broadcast to ws (N, num_ws, w_dim); tracks w_avg (training-mode calls)
    synthesis: a learned constant (N, C_b, b, b) -> per side s = b, 2b, ..., S one block:
                 [bilinear-filtered x2 upsample, modulated 3x3 conv] (not at b), modulated 3x3 conv,
                 each + per-pixel noise x a learned strength, + bias, lrelu x sqrt(2);
                 toRGB: modulated (not demodulated) 1x1 conv + bias; img = upsample(img) + toRGB(x)
               -> (N, C, S, S), clamped or tanh'd into [-1, 1] (see `output`)
    Each conv and toRGB reads one w of ws: block i's convs take ws[k..], its toRGB shares the w of the
    next block's first conv (networks.py's w_idx), so num_ws = 2 * (number of blocks) = 2 log2(S/b) + 2.
  D = residual (or plain, `architecture: orig`) ConvNet, from S x S down to b x b:
    fromRGB 1x1 + lrelu (C_S, S, S) -> per side s = S, ..., 2b: [3x3 conv + lrelu, 3x3 conv + lrelu then
    filtered /2]; `resnet` adds a 1x1 skip (filtered /2, no bias) and scales the sum by sqrt(1/2)
    -> minibatch stddev (+1 channel) -> 3x3 conv + lrelu -> flatten -> FC + lrelu -> FC -> logit (N,)

Modulated convolution (paper sec. 2.2, eq. 1-3), in plain PyTorch: w'_ijk = s_i w_ijk for sample n's
style s (an affine map of its w, bias initialised to 1), then demodulated w''_ijk = w'_ijk /
sqrt(sum_ik w'_ijk^2 + 1e-8), run as ONE grouped F.conv2d with N groups (the batch folded into channels).
Equalised learning rate (Karras et al. 2018): every weight is stored ~N(0, 1) (divided by the lr
multiplier) and scaled at run time by lr_mult / sqrt(fan_in); biases are scaled by lr_mult.
Truncation (sec. B of the paper; StyleGAN 2019 eq. 3): w' = w_avg + psi (w - w_avg), psi in [0, 1], on
every w; w_avg is a running mean of the mapping's outputs, w_avg <- lerp(mean_n w_n, w_avg, 0.995),
updated on every training-mode call as in the reference. `truncation_psi` on the generator (1 = off) is
what `ganforge generate --truncation` sets (train/sampling.py).
Style mixing (sec. 3 of StyleGAN 2019): in training mode, with probability `style_mixing`, the ws from a
random crossover index k in [1, num_ws) on come from a second z (whose w does not move w_avg).
Noise: training mode draws fresh N(0, 1) per pixel; eval mode uses a fixed noise image per layer drawn
at construction (the reference's noise_mode='const', its generate.py's default), so the same z gives
the same image in grids and `ganforge generate`.

Resampling: the reference's [1, 3, 3, 1] filter (nets/r3gan.Resample: depthwise stride-2 transposed
conv with 4x the normalised filter = bilinear x2 away from the borders; down: depthwise stride-2 conv).
The reference fuses it into the convolution (transposed conv then blur; conv then blur-and-subsample);
blur and conv are both linear and shift-invariant, so doing the blur-upsample before G's 3x3 conv, and
D's 3x3 conv before the blur-subsample, computes the same maps except at the image borders.

Deviations from the reference, and why:
  - sides S = b * 2^n with b = 4..7 (a b x b constant; 28x28 MNIST uses b = 7): the reference makes
    powers of two from 4 only;
  - G's output is clamped (default; straight-through gradient: within [-1, 1] exactly the reference's G)
    or tanh'd, since ganforge's G promises images in [-1, 1]; the reference's G is unbounded;
  - image channels come from the data (the reference: 3, or the dataset's);
  - no fp16 layers and no conv_clamp (precision is the trainer's choice), no class embedding in the
    mapping (ganforge's conditional wrappers, nets/conditional.py, condition any family);
  - the minibatch-stddev group is gcd(group size, batch) so any batch works (the reference asserts the
    batch is a multiple of min(group, batch));
  - in training the style-mixing draws use the global RNG inside the net, so every process of a
    distributed run draws the same crossover (the reference's processes draw their own).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from . import ModelFamily, register_family
from .dcgan import check_size as dcgan_check_size
from .r3gan import Resample, stage_sides

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2)  # bias_act's def_gain for lrelu: keeps the signal's magnitude through the layer
W_AVG_BETA = 0.995  # networks.py MappingNetwork w_avg_beta
OUTPUTS = ("clamp", "tanh")
ARCHITECTURES = ("resnet", "orig")


# ---------------------------------------------------------------------------------------------- blocks
def lrelu(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE) * (LRELU_GAIN * gain)


def normalize_2nd_moment(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """z / sqrt(mean_i z_i^2): z on the sphere of radius sqrt(z_dim) (the mapping's input)."""
    return z * (z.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualizedLinear(nn.Module):
    """y = x (W * lr_mult / sqrt(in))^T + b * lr_mult with W stored ~N(0, 1 / lr_mult^2): Adam's step on
    the stored weight then moves the used weight lr_mult times as fast (the mapping's 0.01)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mult: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mult)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mult))
        self.weight_gain, self.bias_gain, self.act = lr_mult / math.sqrt(in_features), lr_mult, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.act else x


class EqualizedConv2d(nn.Module):
    """A 'same' kxk conv with runtime-scaled weights, optional bias, lrelu x sqrt(2) x gain, optional
    filtered halving of the side (after a kxk conv, before a 1x1 one: the reference's order, see above)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, bias: bool = True, act: bool = True, down: bool = False, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.weight_gain, self.act, self.gain = 1 / math.sqrt(c_in * kernel_size**2), act, gain
        self.down = Resample(up=False) if down else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        if self.down is not None and k == 1:
            x = self.down(x)
        x = F.conv2d(x, self.weight * self.weight_gain, padding=k // 2)
        if self.down is not None and k > 1:
            x = self.down(x)
        if self.bias is not None:
            x = x + self.bias.view(1, -1, 1, 1)
        return lrelu(x, self.gain) if self.act else x * self.gain


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True) -> torch.Tensor:
    """Paper eq. 1-3 as one grouped convolution: sample n's kernel is weight (O, I, k, k) scaled per input
    channel by styles[n] (N, I), and, demodulated, rescaled to unit norm per output channel.
    x (N, I, H, W) -> (N, O, H, W)."""
    N, I, H, W = x.shape
    O, _, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.view(N, 1, I, 1, 1)  # (N, O, I, k, k): modulation, eq. 1
    if demodulate:  # eq. 3: E[y^2] = E[x^2] for unit-variance, independent x
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    y = F.conv2d(x.reshape(1, N * I, H, W), w.reshape(N * O, I, kh, kw), padding=kh // 2, groups=N)
    return y.reshape(N, O, *y.shape[2:])


class SynthesisLayer(nn.Module):
    """[filtered x2 upsample] -> modulated, demodulated kxk conv -> + noise * strength -> + bias -> lrelu."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, side: int, up: bool = False, kernel_size: int = 3):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, c_in, bias_init=1.0)  # styles start near 1: the plain conv
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel_size, kernel_size))  # scale is irrelevant: demodulated
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.noise_strength = nn.Parameter(torch.zeros([]))  # learned, starts with no noise
        self.register_buffer("noise_const", torch.randn(side, side))  # eval mode's fixed noise
        self.up = Resample(up=True) if up else None

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            x = self.up(x)  # (N, c_in, 2s, 2s)
        x = modulated_conv2d(x, self.weight, self.affine(w))  # (N, c_out, s, s)
        noise = torch.randn(len(x), 1, *x.shape[2:], device=x.device, dtype=x.dtype) if self.training else self.noise_const.to(x.dtype)
        return lrelu(x + noise * self.noise_strength + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """Modulated 1x1 conv (no demodulation) + bias: a block's features as an image (N, C, s, s)."""

    def __init__(self, c_in: int, channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain = 1 / math.sqrt(c_in)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # the equalised-lr gain rides on the styles
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.view(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One side s: (N, c_in, s/2, s/2) -> (N, c_out, s, s), and the skip image summed up to s."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, side: int, channels: int, first: bool):
        super().__init__()
        self.const = nn.Parameter(torch.randn(c_out, side, side)) if first else None  # the learned input
        self.conv0 = None if first else SynthesisLayer(c_in, c_out, w_dim, side, up=True)
        self.conv1 = SynthesisLayer(c_out, c_out, w_dim, side)
        self.torgb = ToRGB(c_out, channels, w_dim)
        self.num_conv = 1 if first else 2
        self.up_img = None if first else Resample(up=True)

    def forward(self, x, img, ws: torch.Tensor):
        """ws (N, num_conv + 1, w_dim): the convs' ws, then the toRGB's."""
        if self.const is not None:
            x = self.const.unsqueeze(0).expand(len(ws), -1, -1, -1)
        else:
            x = self.conv0(x, ws[:, 0])
        x = self.conv1(x, ws[:, self.num_conv - 1])
        y = self.torgb(x, ws[:, self.num_conv])
        return x, (y if img is None else self.up_img(img) + y)


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, num_ws: int, layers: int, lr_mult: float):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.fcs = nn.Sequential(*[EqualizedLinear(a, b, lr_mult=lr_mult, act=True) for a, b in zip(dims[:-1], dims[1:])])
        self.num_ws = num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, update_w_avg: bool = True) -> torch.Tensor:
        """z (N, z_dim) -> ws (N, num_ws, w_dim); a training-mode call moves w_avg toward the batch's mean w."""
        w = self.fcs(normalize_2nd_moment(z))  # (N, w_dim)
        if self.training and update_w_avg:
            self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, W_AVG_BETA))
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)


class StyleGAN2Generator(nn.Module):
    returns_ws = True  # G(z, return_ws=True) gives (img, ws): path-length regularisation differentiates at ws

    def __init__(self, z_dim: int, shape, widths: list[int], w_dim: int, mapping_layers: int, mapping_lr: float,
                 style_mixing: float, output: str):  # fmt: skip
        super().__init__()
        channels, size, _ = shape
        sides = stage_sides(size)
        self.z_dim, self.output, self.style_mixing = z_dim, output, style_mixing
        self.truncation_psi = 1.0  # w' = w_avg + psi (w - w_avg); 1 = off (set by sampling.truncating)
        self.blocks = nn.ModuleList(
            SynthesisBlock(widths[max(i - 1, 0)], widths[i], w_dim, s, channels, first=i == 0) for i, s in enumerate(sides)
        )
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr)

    def mix_styles(self, z: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        """With probability style_mixing, ws[:, k:] from a second z, k ~ U{1, ..., num_ws - 1}."""
        if torch.rand([]).item() >= self.style_mixing:
            return ws
        cutoff = int(torch.randint(1, self.num_ws, []).item())
        other = self.mapping(torch.randn_like(z), update_w_avg=False)
        return torch.cat([ws[:, :cutoff], other[:, cutoff:]], dim=1)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images (N, C, S, S) in [-1, 1]."""
        x = img = None
        k = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, k : k + block.num_conv + 1])
            k += block.num_conv
        if self.output == "tanh":
            return torch.tanh(img)
        return img + (img.clamp(-1, 1) - img).detach()  # straight-through clamp

    def forward(self, z: torch.Tensor, c=None, return_ws: bool = False):
        ws = self.mapping(z)
        if self.training and self.style_mixing > 0:
            ws = self.mix_styles(z, ws)
        if self.truncation_psi != 1:
            ws = self.mapping.w_avg.lerp(ws, self.truncation_psi)
        img = self.synthesis(ws)
        return (img, ws) if return_ws else img


class MinibatchStd(nn.Module):
    """Karras et al. 2018 sec. 3, as the reference's MinibatchStdLayer: the std of each feature over
    groups of `group` samples (strided through the batch), averaged over features and pixels, appended
    as `channels` extra feature maps. (N, C, H, W) -> (N, C + channels, H, W)."""

    def __init__(self, group: int, channels: int):
        super().__init__()
        self.group, self.channels = group, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        G, F_ = math.gcd(self.group, N), self.channels
        y = x.reshape(G, -1, F_, C // F_, H, W)  # sample n is in group n mod (N / G)
        y = (y - y.mean(dim=0)).square().mean(dim=0)  # (N/G, F, C/F, H, W): the variance over the group
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (N/G, F)
        y = y.reshape(-1, F_, 1, 1).repeat(G, 1, H, W)  # (N, F, H, W)
        return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """(N, c_in, s, s) -> (N, c_out, s/2, s/2): two 3x3 convs, the second halving; resnet adds a skip."""

    def __init__(self, c_in: int, c_out: int, resnet: bool):
        super().__init__()
        gain = math.sqrt(0.5) if resnet else 1.0  # keeps the sum of two paths at unit variance
        self.conv0 = EqualizedConv2d(c_in, c_in, 3)
        self.conv1 = EqualizedConv2d(c_in, c_out, 3, down=True, gain=gain)
        self.skip = EqualizedConv2d(c_in, c_out, 1, bias=False, act=False, down=True, gain=gain) if resnet else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.conv0(x))
        return y if self.skip is None else self.skip(x) + y


class StyleGAN2Discriminator(nn.Module):
    def __init__(self, shape, widths: list[int], architecture: str, mbstd_group: int, mbstd_channels: int):
        super().__init__()
        channels, size, _ = shape
        sides = stage_sides(size)
        down = widths[::-1]  # from S x S down to b x b
        self.fromrgb = EqualizedConv2d(channels, down[0], 1)  # (N, C_S, S, S)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(a, b, architecture == "resnet") for a, b in zip(down[:-1], down[1:])])
        c, b = down[-1], sides[0]  # the epilogue at b x b
        self.mbstd = MinibatchStd(mbstd_group, mbstd_channels)  # (N, c + mbstd_channels, b, b)
        self.conv = EqualizedConv2d(c + mbstd_channels, c, 3)  # (N, c, b, b)
        self.fc = EqualizedLinear(c * b * b, c, act=True)  # (N, c)
        self.out = EqualizedLinear(c, 1)  # (N, 1)

    def forward(self, x: torch.Tensor, c=None) -> torch.Tensor:
        x = self.conv(self.mbstd(self.blocks(self.fromrgb(x))))
        return self.out(self.fc(x.flatten(1))).view(-1)


# ---------------------------------------------------------------------------------------------- builders
def check_size(shape: tuple[int, ...]) -> None:
    dcgan_check_size(shape, "stylegan2")


def side_widths(who: str, size: int, channel_base: int, channel_max: int) -> list[int]:
    """Channels at each side from the base up: min(channel_base // side, channel_max) (train.py's fmaps
    x 32768 and 512)."""
    if channel_base < 1 or channel_max < 1:
        raise ConfigError(f"{who}: channel_base and channel_max must be positive; got {channel_base} and {channel_max}")
    widths = [min(channel_base // s, channel_max) for s in stage_sides(size)]
    if min(widths) < 1:
        raise ConfigError(f"{who}.channel_base={channel_base} leaves no channels at side {size}; use at least {size}")
    return widths


def build_generator(
    z_dim: int,
    shape,
    *,
    w_dim: int = 512,
    mapping_layers: int = 8,
    mapping_lr: float = 0.01,
    channel_base: int = 32768,
    channel_max: int = 512,
    style_mixing: float = 0.9,
    output: str = "clamp",
):
    if output not in OUTPUTS:
        raise ConfigError(f"unknown model.g.output '{output}'; valid: {', '.join(OUTPUTS)}")
    if w_dim < 1 or mapping_layers < 1 or mapping_lr <= 0:
        raise ConfigError(f"model.g: w_dim and mapping_layers must be at least 1 and mapping_lr positive; got {w_dim}, {mapping_layers}, {mapping_lr}")
    if not 0 <= style_mixing <= 1:
        raise ConfigError(f"model.g.style_mixing is a probability in [0, 1]; got {style_mixing}")
    widths = side_widths("model.g", shape[1], channel_base, channel_max)
    return StyleGAN2Generator(z_dim, shape, widths, w_dim, mapping_layers, mapping_lr, style_mixing, output)


def build_discriminator(
    shape,
    *,
    channel_base: int = 32768,
    channel_max: int = 512,
    architecture: str = "resnet",
    mbstd_group: int = 4,
    mbstd_channels: int = 1,
):
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"unknown model.d.architecture '{architecture}'; valid: {', '.join(ARCHITECTURES)}")
    widths = side_widths("model.d", shape[1], channel_base, channel_max)
    if mbstd_group < 1 or mbstd_channels < 1 or widths[0] % mbstd_channels:
        raise ConfigError(f"model.d: mbstd_group must be at least 1 and mbstd_channels a positive divisor of the last width "
                          f"{widths[0]}; got {mbstd_group} and {mbstd_channels}")  # fmt: skip
    return StyleGAN2Discriminator(shape, widths, architecture, mbstd_group, mbstd_channels)


# ---------------------------------------------------------------------------------------------- registered
register_family(
    ModelFamily(
        name="stylegan2",
        description="Karras et al. 2020 StyleGAN2: mapping network, modulated/demodulated convs, noise, skip G, "
        "residual D with minibatch stddev; sides b*2^n: 8, 16, 28, 32, 64...; G options w_dim (512), mapping_layers (8), "
        "mapping_lr (0.01), channel_base (32768), channel_max (512), style_mixing (0.9), output=clamp|tanh; D options "
        "channel_base, channel_max, architecture=resnet|orig, mbstd_group (4), mbstd_channels (1); use model.z_dim=512",
        kinds=("image",),
        build_generator=build_generator,
        build_discriminator=build_discriminator,
        check_shape=check_size,
    )
)

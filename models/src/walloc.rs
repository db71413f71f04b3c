//! WaLLoC, wavelet learned lossy compression (Jacobellis & Yadwadkar, "Learned Compression
//! for Compressed Learning", DCC 2025), for images (2D) and audio (1D).
//!
//! ```text
//!  x ─WPT(J)─▶ X ─1×1 conv─▶ t ─compand─▶ y ─Q─▶ ŷ (integers in ±(2^(b−1)−1))
//!                                                │ per-channel factorized prior
//!  x̂ ◀─WPT⁻¹(J)─ X̂ ◀─(+)─ conv_out ◀─residual blocks ◀─conv_in ◀─expand─┘
//!                      └──────────── skip (1×1) ◀─────────────────┘
//! ```
//!
//! The encoder is linear up to the companding `y = L·erf(u / √2)` (the paper's
//! `ToUniform`: a Gaussian CDF onto the bounded range `±L`, `L = 2^(b−1) − ½ − 10⁻³`);
//! the decoder starts with its inverse (`ToNormal`). The paper divides the encoder output
//! by `s = (2^(b−1) − 1)/1.85` first; here the encoder outputs `u = t/s` directly (a fixed
//! rescaling of its weights), initialised 5× larger than the default so that the latents
//! start well above the unit quantisation noise, and the decoder sees `u`, of unit scale. Training
//! replaces rounding by additive uniform noise. Unlike the paper, which stores `ŷ` as
//! lossless WebP, the latents are coded with a learned per-channel factorized density
//! (the [`EntropyBottleneck`]), and training may add its rate to the loss.
//!
//! The decoder adds a linear 1×1 path from the expanded latents to the wavelet channels
//! (`skip`, the paper's linear decoder) to the residual network's output: the linear
//! part learns in a few hundred steps, which matters when training on two CPU cores.
//!
//! Audio runs through the same 2D modules with height 1 (`[B, C, 1, L]`, kernels `1×3`).
//! The paper's optional mid-block attention is not built: its memory grows with the
//! square of the latent positions, which a codec for any image size cannot afford.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::silu;

use crate::bottleneck::EntropyBottleneck;
use crate::wavelet::{iwpt1, iwpt2, wpt1, wpt2};

/// Configuration of a WaLLoC model (saved as JSON next to the weights).
#[derive(Config, Debug, PartialEq)]
pub struct WallocConfig {
    /// 2 for images, 1 for audio.
    pub dims: usize,
    /// Signal channels: 3 (RGB), 1 (mono) or 2 (stereo).
    pub channels: usize,
    /// Wavelet packet levels `J`.
    pub levels: usize,
    /// Latent channels.
    pub latent_dim: usize,
    /// Width of the decoder's residual blocks (a multiple of 32, for the group norms).
    pub nd: usize,
    /// Bits of the companded latent range.
    #[config(default = 8)]
    pub latent_bits: usize,
    /// Residual blocks in the decoder.
    #[config(default = 5)]
    pub blocks: usize,
    /// Rate weight λ of the training loss `λ·255²·MSE + bits per position`; 0 trains
    /// on distortion only, as the paper does.
    #[config(default = 0.0)]
    pub lambda: f64,
    /// Sample rate the audio model works at (audio only).
    #[config(default = "None")]
    pub sample_rate: Option<u32>,
}

/// A residual block: `x + conv(silu(gn(conv(silu(gn(x))))))`.
#[derive(Module, Debug)]
pub struct ResBlock {
    /// First group norm.
    pub norm1: GroupNorm,
    /// First convolution.
    pub conv1: Conv2d,
    /// Second group norm.
    pub norm2: GroupNorm,
    /// Second convolution.
    pub conv2: Conv2d,
}

impl ResBlock {
    /// # Shapes
    /// `[B, nd, H, W]` → `[B, nd, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let h = self.conv2.forward(silu(self.norm2.forward(h)));
        x + h
    }
}

/// A WaLLoC model. See the module docs for the dataflow.
#[derive(Module, Debug)]
pub struct Walloc {
    /// The linear encoder, a 1×1 convolution from the wavelet channels to the latents.
    pub encoder: Conv2d,
    /// First decoder convolution (latents → `nd`).
    pub conv_in: Conv2d,
    /// Decoder residual blocks.
    pub blocks: Vec<ResBlock>,
    /// Output group norm.
    pub norm_out: GroupNorm,
    /// Last decoder convolution (`nd` → wavelet channels).
    pub conv_out: Conv2d,
    /// Linear 1×1 path from the latents to the wavelet channels, added to `conv_out`.
    pub skip: Conv2d,
    /// Per-channel learned density of the latents.
    pub entropy_bottleneck: EntropyBottleneck,
    /// 2 for images, 1 for audio.
    pub dims: usize,
    /// Wavelet packet levels.
    pub levels: usize,
    /// Bits of the companded range.
    pub latent_bits: usize,
}

/// What a forward pass returns.
#[derive(Debug, Clone)]
pub struct WallocOutput {
    /// Reconstruction, same shape as the input.
    pub x_hat: Tensor<4>,
    /// Likelihoods of the (noisy or rounded) latents, `[B, latent_dim, h, w]`.
    pub likelihoods: Tensor<4>,
}

const GROUPS: usize = 32;
/// Factor on the encoder's default initialisation (see the module docs).
const ENCODER_INIT_GAIN: f64 = 5.0;

impl WallocConfig {
    /// Wavelet channels `C·4^J` (images) or `C·2^J` (audio).
    pub fn wavelet_channels(&self) -> usize {
        self.channels * (1usize << (self.dims * self.levels))
    }

    /// Input lengths (height, width, samples) must be multiples of this.
    pub fn multiple(&self) -> usize {
        1 << self.levels
    }

    /// Builds a freshly initialised model.
    ///
    /// # Panics
    /// If `dims` is not 1 or 2, or `nd` is not a multiple of 32.
    pub fn init(&self, device: &Device) -> Walloc {
        assert!(self.dims == 1 || self.dims == 2, "dims must be 1 or 2");
        assert!(
            self.nd.is_multiple_of(GROUPS),
            "nd must be a multiple of {GROUPS} (group norm)"
        );
        let k = if self.dims == 2 { [3, 3] } else { [1, 3] };
        let pad = PaddingConfig2d::Explicit(k[0] / 2, k[1] / 2, k[0] / 2, k[1] / 2);
        let conv = |cin: usize, cout: usize| {
            Conv2dConfig::new([cin, cout], k)
                .with_padding(pad.clone())
                .init(device)
        };
        let norm = || GroupNormConfig::new(GROUPS, self.nd).init(device);
        // The decoder starts at zero output; the linear path learns first.
        let mut conv_out = conv(self.nd, self.wavelet_channels());
        conv_out.weight = Param::from_tensor(conv_out.weight.val().zeros_like().detach());
        conv_out.bias = conv_out
            .bias
            .map(|b| Param::from_tensor(b.val().zeros_like().detach()));
        let wc = self.wavelet_channels();
        let mut skip = Conv2dConfig::new([self.latent_dim, wc], [1, 1]).init(device);
        skip.weight = Param::from_tensor(skip.weight.val().zeros_like().detach());
        skip.bias = skip
            .bias
            .map(|b| Param::from_tensor(b.val().zeros_like().detach()));
        let mut encoder = Conv2dConfig::new([wc, self.latent_dim], [1, 1]).init(device);
        encoder.weight =
            Param::from_tensor(encoder.weight.val().mul_scalar(ENCODER_INIT_GAIN).detach());
        Walloc {
            encoder,
            conv_in: conv(self.latent_dim, self.nd),
            blocks: (0..self.blocks)
                .map(|_| ResBlock {
                    norm1: norm(),
                    conv1: conv(self.nd, self.nd),
                    norm2: norm(),
                    conv2: conv(self.nd, self.nd),
                })
                .collect(),
            norm_out: norm(),
            conv_out,
            skip,
            entropy_bottleneck: EntropyBottleneck::new(self.latent_dim, device),
            dims: self.dims,
            levels: self.levels,
            latent_bits: self.latent_bits,
        }
    }
}

/// `erf⁻¹(x)` for `|x| < 1` (M. Giles, "Approximating the erfinv function", GPU Gems 4,
/// single-precision version), differentiable.
pub fn erfinv<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let w = ((x.clone().neg().add_scalar(1.0)) * (x.clone().add_scalar(1.0)))
        .log()
        .neg();
    let horner = |t: Tensor<D>, coef: &[f64]| {
        let mut p = t.zeros_like().add_scalar(coef[0]);
        for &c in &coef[1..] {
            p = p * t.clone() + c;
        }
        p
    };
    let central = horner(
        w.clone().sub_scalar(2.5),
        &[
            2.810_226_36e-08,
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ],
    );
    let tail = horner(
        w.clone().clamp_min(5.0).sqrt().sub_scalar(3.0),
        &[
            -0.000_200_214_257,
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ],
    );
    central.mask_where(w.greater_equal_elem(5.0), tail) * x
}

impl Walloc {
    /// Largest latent value `2^(b−1) − 1`.
    pub fn latent_max_int(&self) -> i32 {
        (1i32 << (self.latent_bits - 1)) - 1
    }

    /// The companding range `L`.
    fn companding_range(&self) -> f64 {
        f64::from(self.latent_max_int()) + 0.5 - 1e-3
    }

    /// Latent channels.
    pub fn latent_dim(&self) -> usize {
        self.entropy_bottleneck.channels()
    }

    /// DC gain of the packet transform (`√2` per level and axis); the model works on
    /// coefficients divided by it, so that they keep the signal's scale.
    pub fn wavelet_gain(&self) -> f64 {
        2f64.powf((self.dims * self.levels) as f64 / 2.0)
    }

    /// Wavelet packet analysis, divided by [`Walloc::wavelet_gain`].
    ///
    /// # Shapes
    /// images `[B, C, H, W]` → `[B, C·4^J, H/2^J, W/2^J]`; audio `[B, C, 1, L]` →
    /// `[B, C·2^J, 1, L/2^J]`.
    pub fn analysis(&self, x: Tensor<4>) -> Tensor<4> {
        let x = x.div_scalar(self.wavelet_gain());
        if self.dims == 2 {
            wpt2(x, self.levels)
        } else {
            let [b, c, _, l] = x.dims();
            let y = wpt1(x.reshape([b, c, l]), self.levels);
            let [b, c, l] = y.dims();
            y.reshape([b, c, 1, l])
        }
    }

    /// Inverse of [`Walloc::analysis`] (multiplies by the gain again).
    pub fn synthesis(&self, x: Tensor<4>) -> Tensor<4> {
        let x = x.mul_scalar(self.wavelet_gain());
        if self.dims == 2 {
            iwpt2(x, self.levels)
        } else {
            let [b, c, _, l] = x.dims();
            let y = iwpt1(x.reshape([b, c, l]), self.levels);
            let [b, c, l] = y.dims();
            y.reshape([b, c, 1, l])
        }
    }

    /// The continuous companded latents `y` (before rounding) of a signal in `[−½, ½]`.
    ///
    /// # Shapes
    /// `[B, C, H, W]` (images) or `[B, C, 1, L]` (audio) → `[B, latent_dim, h, w]`.
    pub fn encode_continuous(&self, x: Tensor<4>) -> Tensor<4> {
        self.compand(self.analysis(x))
    }

    /// The encoder after the wavelet transform: 1×1 convolution and companding of
    /// coefficients already divided by [`Walloc::wavelet_gain`] (e.g. from
    /// [`crate::wavelet::wpt2_cpu`]).
    pub fn compand(&self, xw: Tensor<4>) -> Tensor<4> {
        let u = self.encoder.forward(xw);
        u.div_scalar(std::f64::consts::SQRT_2)
            .erf()
            .mul_scalar(self.companding_range())
    }

    /// Rounded latents, as the codec stores them (integers in `±(2^(b−1) − 1)`).
    pub fn encode_latents(&self, x: Tensor<4>) -> Tensor<4> {
        let m = f64::from(self.latent_max_int());
        self.encode_continuous(x).round().clamp(-m, m)
    }

    /// Undoes the companding: latents (rounded or noisy) back to the encoder's scale `u`.
    pub fn expand(&self, y: Tensor<4>) -> Tensor<4> {
        // The paper clamps the CDF value to [1e-4, 1 − 1e-4].
        let v = y.div_scalar(self.companding_range()).clamp(-0.9998, 0.9998);
        erfinv(v).mul_scalar(std::f64::consts::SQRT_2)
    }

    /// The decoder: latents to wavelet coefficients `X̂`.
    pub fn g_s(&self, y_hat: Tensor<4>) -> Tensor<4> {
        let t = self.expand(y_hat);
        let mut h = self.conv_in.forward(t.clone());
        for b in &self.blocks {
            h = b.forward(h);
        }
        self.conv_out.forward(silu(self.norm_out.forward(h))) + self.skip.forward(t)
    }

    /// Decodes latents to the signal (not clamped).
    ///
    /// # Shapes
    /// `[B, latent_dim, h, w]` → `[B, C, h·2^J, w·2^J]` (audio: `[B, C, 1, w·2^J]`).
    pub fn decode_latents(&self, y_hat: Tensor<4>) -> Tensor<4> {
        self.synthesis(self.g_s(y_hat))
    }

    /// Training pass: additive uniform noise in place of rounding. Without
    /// `rate_gradient` the likelihoods see detached latents, so the rate trains only the
    /// density, not the encoder.
    pub fn forward_train(&self, x: Tensor<4>, rate_gradient: bool) -> WallocOutput {
        let y = self.encode_continuous(x);
        let y_tilde = y.clone() + y.random_like(Distribution::Uniform(-0.5, 0.5));
        let for_rate = if rate_gradient {
            y_tilde.clone()
        } else {
            y_tilde.clone().detach()
        };
        WallocOutput {
            likelihoods: self.entropy_bottleneck.likelihood(for_rate),
            x_hat: self.decode_latents(y_tilde),
        }
    }

    /// Evaluation pass with rounding, as the codec quantises.
    pub fn forward_eval(&self, x: Tensor<4>) -> WallocOutput {
        let y_hat = self.encode_latents(x);
        WallocOutput {
            likelihoods: self.entropy_bottleneck.likelihood(y_hat.clone()),
            x_hat: self.decode_latents(y_hat),
        }
    }
}

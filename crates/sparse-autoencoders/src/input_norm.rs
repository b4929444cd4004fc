//! Per-row input normalisation at inference, as SAELens applies its `normalize_activations`
//! (so that an SAE loaded from a SAELens directory encodes and reconstructs as it does there).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// How [`Sae::encode`](crate::Sae::encode) normalises each input row before the encoder, and
/// how [`Sae::forward`](crate::Sae::forward) maps the reconstruction back (SAELens'
/// `normalize_activations`; `x` is one row of `d_in` values):
///
/// | variant | in | out |
/// | --- | --- | --- |
/// | `none` | `x` | `y` |
/// | `constant_norm_rescale` | `x · c`, `c = √d_in / ‖x‖₂` | `y / c` |
/// | `layer_norm` | `(x − μ) / (σ + 1e-5)`, `μ = mean(x)`, `σ` the unbiased (n − 1) std of `x − μ` | `y · σ + μ` |
///
/// Training ([`fit`](crate::fit)) refuses an SAE with a normalisation: it is an inference
/// form, for SAEs trained elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputNormalization {
    /// The rows as they are.
    #[default]
    None,
    /// Each row scaled to norm `√d_in`, and the reconstruction scaled back.
    ConstantNormRescale,
    /// Each row standardised (layer norm without weights), and the reconstruction mapped back.
    LayerNorm,
}

/// What [`InputNormalization::normalize`] keeps of each row to map a reconstruction back:
/// `y ↦ y · scale + shift` (each `[B, 1]`, absent for the identity).
#[derive(Debug, Clone, Default)]
pub struct RowStatistics {
    /// The factor of each row (`1 / c`, or `σ`).
    pub scale: Option<Tensor<2>>,
    /// The shift of each row (`μ`).
    pub shift: Option<Tensor<2>>,
}

impl InputNormalization {
    /// SAELens' name (`normalize_activations`).
    pub fn saelens_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ConstantNormRescale => "constant_norm_rescale",
            Self::LayerNorm => "layer_norm",
        }
    }

    /// The rows `x` (`[B, d_in]`) normalised, and what maps a reconstruction back.
    pub fn normalize(self, x: Tensor<2>) -> (Tensor<2>, RowStatistics) {
        match self {
            Self::None => (x, RowStatistics::default()),
            Self::ConstantNormRescale => {
                let [_, d] = x.dims();
                let norm = x.clone().square().sum_dim(1).sqrt();
                let c = norm.clone().recip().mul_scalar((d as f64).sqrt());
                let back = RowStatistics {
                    scale: Some(norm.div_scalar((d as f64).sqrt())),
                    shift: None,
                };
                (x * c, back)
            }
            Self::LayerNorm => {
                let mu = x.clone().mean_dim(1);
                let centred = x - mu.clone();
                let std = centred.clone().var(1).sqrt();
                let y = centred / std.clone().add_scalar(1e-5);
                let back = RowStatistics {
                    scale: Some(std),
                    shift: Some(mu),
                };
                (y, back)
            }
        }
    }
}

impl RowStatistics {
    /// A reconstruction `y` (`[B, d_in]`, in the normalised space) mapped back to the rows'.
    pub fn restore(self, y: Tensor<2>) -> Tensor<2> {
        let y = match self.scale {
            Some(s) => y * s,
            None => y,
        };
        match self.shift {
            Some(m) => y + m,
            None => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_and_rescale_match_hand_values() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 2.0, 3.0, 6.0]], &device);
        // μ = 3, x − μ = [-2, -1, 0, 3], unbiased var = 14/3.
        let (y, stats) = InputNormalization::LayerNorm.normalize(x.clone());
        let std = (14.0f32 / 3.0).sqrt();
        let y: Vec<f32> = y.try_into_vec_as::<f32>().unwrap();
        for (got, want) in y.iter().zip([-2.0, -1.0, 0.0, 3.0]) {
            assert!((got - want / (std + 1e-5)).abs() < 1e-6, "{y:?}");
        }
        let back: Vec<f32> = stats
            .restore(Tensor::<2>::from_floats([[1.0, 0.0, 0.0, 0.0]], &device))
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((back[0] - (std + 3.0)).abs() < 1e-5 && (back[1] - 3.0).abs() < 1e-6);

        // ‖x‖ = √50, c = 2 / √50.
        let (y, stats) = InputNormalization::ConstantNormRescale.normalize(x);
        let norm = y.clone().square().sum().into_scalar::<f32>();
        assert!((norm - 4.0).abs() < 1e-5, "{norm}");
        let back: Vec<f32> = stats.restore(y).try_into_vec_as::<f32>().unwrap();
        assert!((back[3] - 6.0).abs() < 1e-5, "{back:?}");
    }
}

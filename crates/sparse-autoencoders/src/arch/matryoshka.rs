//! Matryoshka SAE (Bussmann et al. 2025): BatchTopK codes whose reconstruction loss is summed
//! over nested prefixes of the latents, `Σ_m mean_rows Σ (f[:, :m] W_dec[:m] + b_dec − x)²`,
//! so that the first latents learn general features and later ones refine them.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::prelude::*;
use sparse_losses::ops::sparse_matmul::sparse_matmul_on_support;

use super::batch_top_k::BatchTopK;
use super::{
    check_k, invalid, ArchitectureConfig, ArchitectureProperties, Encoded, SaeArchitecture,
    SaeParts,
};
use crate::{recon_loss, Result};

/// The config of [`Matryoshka`].
#[derive(Config, Debug, PartialEq)]
pub struct MatryoshkaConfig {
    /// Mean latents kept per row.
    #[config(default = 32)]
    pub k: usize,
    /// The prefix sizes, increasing; the last must be `d_sae` (it is added if missing).
    #[config(default = "Vec::new()")]
    pub prefixes: Vec<usize>,
}

impl ArchitectureConfig for MatryoshkaConfig {
    type Module = Matryoshka;
    const NAME: &'static str = "matryoshka";
    const SUMMARY: &'static str = "BatchTopK whose loss sums the reconstructions of nested latent prefixes (k, prefixes)";

    fn validate(&self, d_sae: usize) -> Result<()> {
        check_k(Self::NAME, self.k, d_sae)?;
        let mut last = 0;
        for &p in &self.prefixes {
            if p <= last || p > d_sae {
                return Err(invalid(
                    Self::NAME,
                    "prefixes",
                    p,
                    "strictly increasing sizes between 1 and d_sae",
                ));
            }
            last = p;
        }
        Ok(())
    }

    fn init(&self, d_sae: usize, device: &Device) -> Result<Matryoshka> {
        self.validate(d_sae)?;
        let mut sizes = self.prefixes.clone();
        if sizes.last() != Some(&d_sae) {
            sizes.push(d_sae);
        }
        Ok(Matryoshka {
            batch_top_k: BatchTopK::new(self.k, device),
            sizes,
        })
    }
}

impl ArchitectureProperties for MatryoshkaConfig {
    fn top_k(&self) -> Option<usize> {
        Some(self.k)
    }
}

/// Matryoshka's state: BatchTopK's running threshold, and the prefix sizes.
#[derive(Module, Debug)]
pub struct Matryoshka {
    /// The BatchTopK selection and its running inference threshold.
    pub batch_top_k: BatchTopK,
    /// The prefix sizes, ending with `d_sae`.
    #[module(skip)]
    sizes: Vec<usize>,
}

impl SaeArchitecture for Matryoshka {
    /// BatchTopK's codes, with the summed prefix reconstruction.
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, _warm: f64) -> Encoded {
        let mut e = self.batch_top_k.select(sae.pre_activations(x.clone()));
        let w = sae.decoder_weight();
        let b = sae.decoder_bias().unsqueeze::<2>();
        let mut total: Option<Tensor<1>> = None;
        for &m in &self.sizes {
            // BatchTopK codes: a zero passes no gradient back (see `Sae::decode`).
            let x_hat = sparse_matmul_on_support(
                e.codes.clone().narrow(1, 0, m),
                w.clone().narrow(0, 0, m),
            ) + b.clone();
            let l = recon_loss(&x_hat, &x);
            total = Some(match total {
                None => l,
                Some(t) => t + l,
            });
        }
        e.reconstruction = total;
        e
    }

    /// BatchTopK's: `z · 1[z > θ]`.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        self.batch_top_k.inference_pass(sae, x)
    }

    fn running_threshold(&self) -> Option<&Param<Tensor<1>>> {
        self.batch_top_k.running_threshold()
    }

    fn running_threshold_mut(&mut self) -> Option<&mut Param<Tensor<1>>> {
        self.batch_top_k.running_threshold_mut()
    }
}

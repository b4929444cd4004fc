//! OMP: no encoder. The codes are orthogonal matching pursuit with `k` nonzeros of `x − b_dec`
//! over the decoder rows (kept at unit norm), held constant in the loss, so the dictionary
//! learns by gradient steps on the reconstruction ([`sparse_losses::Omp`]).

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;
use sparse_losses::OmpConfig as OmpCoder;

use super::{
    check_k, ArchitectureConfig, ArchitectureProperties, Encoded, SaeArchitecture, SaeParts,
};
use crate::Result;

/// The config of [`Omp`].
#[derive(Config, Debug, PartialEq)]
pub struct OmpConfig {
    /// Nonzeros per code.
    #[config(default = 32)]
    pub k: usize,
}

impl ArchitectureConfig for OmpConfig {
    type Module = Omp;
    const NAME: &'static str = "omp";
    const SUMMARY: &'static str = "orthogonal matching pursuit: k atoms of the decoder per row, no encoder (k)";

    fn validate(&self, d_sae: usize) -> Result<()> {
        check_k(Self::NAME, self.k, d_sae)
    }

    fn init(&self, d_sae: usize, _device: &Device) -> Result<Omp> {
        self.validate(d_sae)?;
        Ok(Omp { k: self.k })
    }
}

impl ArchitectureProperties for OmpConfig {
    fn k(&self) -> Option<usize> {
        Some(self.k)
    }

    fn has_encoder(&self) -> bool {
        false
    }

    fn unit_norm_decoder(&self) -> bool {
        true
    }
}

/// OMP codes: no parameters of their own.
#[derive(Module, Debug)]
pub struct Omp {
    #[module(skip)]
    k: usize,
}

impl SaeArchitecture for Omp {
    /// The codes, constant in the loss.
    fn training_pass(&self, sae: &impl SaeParts, x: Tensor<2>, _warm: f64) -> Encoded {
        Encoded::codes(self.inference_pass(sae, x))
    }

    /// OMP codes over the current (detached) decoder.
    fn inference_pass(&self, sae: &impl SaeParts, x: Tensor<2>) -> Tensor<2> {
        let omp = OmpCoder::new()
            .with_n_nonzero(Some(self.k))
            .init()
            .expect("k >= 1 is validated with the config");
        let centred = sae.centre(x).detach();
        omp.codes(sae.decoder_weight().detach().transpose(), centred)
            .expect("k <= d_sae and the shapes are validated with the config")
            .detach()
    }
}

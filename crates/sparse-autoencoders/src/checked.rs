//! The checked methods of [`Sae`]: [`encode`](Sae::encode), [`decode`](Sae::decode),
//! [`forward`](Sae::forward) and [`forward_train`](Sae::forward_train) with the input's shape
//! checked first, for callers who feed tensors they did not build themselves.
//!
//! The unchecked methods mirror `burn::nn::Linear::forward`: a tensor of the wrong width
//! panics inside Burn's matmul. These return [`Error::InputShape`] instead (also for a batch
//! of no rows, which Burn would pass on as an empty result).

use burn::prelude::*;
#[cfg(test)]
use burn::tensor::TensorData;

use crate::sae::{Sae, SaeForward};
use crate::{Error, Result};

/// `Ok` when `t` is `[B, width]` with `B ≥ 1`.
fn check(what: &'static str, t: &Tensor<2>, width: usize) -> Result<()> {
    let [rows, cols] = t.dims();
    if rows == 0 || cols != width {
        return Err(Error::InputShape {
            what,
            width,
            shape: vec![rows, cols],
        });
    }
    Ok(())
}

impl Sae {
    /// [`encode`](Self::encode) of `x`, `[B, d_in]`, checked.
    ///
    /// # Errors
    /// [`Error::InputShape`] when `x` is not `[B, d_in]` with `B ≥ 1`.
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use sparse_autoencoders::{arch::TopKConfig, Architecture, Error, SaeConfig};
    ///
    /// let device = Device::flex();
    /// let sae = SaeConfig::new(8, 32)
    ///     .with_architecture(Architecture::TopK(TopKConfig { k: 4 }))
    ///     .init(&device)?;
    /// let codes = sae.try_encode(Tensor::<2>::ones([3, 8], &device))?;
    /// assert_eq!(codes.dims(), [3, 32]);
    /// let wrong = sae.try_encode(Tensor::<2>::ones([3, 7], &device));
    /// assert!(matches!(wrong, Err(Error::InputShape { width: 8, .. })));
    /// let empty = sae.try_encode(Tensor::<2>::ones([0, 8], &device));
    /// assert!(matches!(empty, Err(Error::InputShape { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_encode(&self, x: Tensor<2>) -> Result<Tensor<2>> {
        check("the input of Sae::encode", &x, self.d_in())?;
        Ok(self.encode(x))
    }

    /// [`decode`](Self::decode) of codes `f`, `[B, d_sae]`, checked.
    ///
    /// # Errors
    /// [`Error::InputShape`] when `f` is not `[B, d_sae]` with `B ≥ 1`.
    pub fn try_decode(&self, f: Tensor<2>) -> Result<Tensor<2>> {
        check("the codes given to Sae::decode", &f, self.d_sae())?;
        Ok(self.decode(f))
    }

    /// [`forward`](Self::forward) of `x`, `[B, d_in]`, checked.
    ///
    /// # Errors
    /// [`Error::InputShape`] when `x` is not `[B, d_in]` with `B ≥ 1`.
    pub fn try_forward(&self, x: Tensor<2>) -> Result<Tensor<2>> {
        check("the input of Sae::forward", &x, self.d_in())?;
        Ok(self.forward(x))
    }

    /// [`forward_train`](Self::forward_train) of a batch `x`, `[B, d_in]`, checked.
    ///
    /// # Errors
    /// [`Error::InputShape`] when `x` is not `[B, d_in]` with `B ≥ 1`.
    pub fn try_forward_train(&self, x: Tensor<2>) -> Result<SaeForward> {
        check("the batch of Sae::forward_train", &x, self.d_in())?;
        Ok(self.forward_train(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Architecture, SaeConfig};

    fn sae(device: &Device) -> Sae {
        SaeConfig::new(6, 10)
            .with_architecture(Architecture::TopK(crate::arch::TopKConfig { k: 3 }))
            .init(device)
            .unwrap()
    }

    fn shape_of(r: Result<impl Sized>) -> (usize, Vec<usize>, String) {
        let Err(e) = r else {
            panic!("expected InputShape, got a result")
        };
        match &e {
            Error::InputShape { width, shape, .. } => (*width, shape.clone(), e.to_string()),
            e => panic!("expected InputShape, got {e}"),
        }
    }

    #[test]
    fn codes_of_the_wrong_width_are_refused() {
        let device = Device::flex();
        let sae = sae(&device);
        let (width, shape, message) = shape_of(sae.try_decode(Tensor::ones([4, 6], &device)));
        assert_eq!((width, shape), (10, vec![4, 6]));
        assert_eq!(
            message,
            "the codes given to Sae::decode must have shape [B ≥ 1, 10], got [4, 6]"
        );
        let (width, shape, _) = shape_of(sae.try_forward(Tensor::ones([4, 10], &device)));
        assert_eq!((width, shape), (6, vec![4, 10]));
        let (width, shape, _) = shape_of(sae.try_forward_train(Tensor::ones([2, 5], &device)));
        assert_eq!((width, shape), (6, vec![2, 5]));
    }

    #[test]
    fn an_empty_batch_is_refused() {
        let device = Device::flex();
        let sae = sae(&device);
        for r in [
            shape_of(sae.try_encode(Tensor::zeros([0, 6], &device))),
            shape_of(sae.try_forward(Tensor::zeros([0, 6], &device))),
            shape_of(sae.try_forward_train(Tensor::zeros([0, 6], &device))),
            shape_of(sae.try_decode(Tensor::zeros([0, 10], &device))),
        ] {
            assert_eq!(r.1[0], 0, "{}", r.2);
        }
    }

    #[test]
    fn the_checked_methods_give_the_unchecked_results() {
        let device = Device::flex();
        let sae = sae(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new((0..18).map(|i| (i as f32 * 0.7).sin()).collect(), [3, 6]),
            &device,
        );
        let codes = sae.try_encode(x.clone()).unwrap();
        codes
            .to_data()
            .assert_eq(&sae.encode(x.clone()).to_data(), true);
        sae.try_decode(codes.clone())
            .unwrap()
            .to_data()
            .assert_eq(&sae.decode(codes).to_data(), true);
        sae.try_forward(x.clone())
            .unwrap()
            .to_data()
            .assert_eq(&sae.forward(x.clone()).to_data(), true);
        let loss: f32 = sae.try_forward_train(x.clone()).unwrap().loss.into_scalar();
        assert_eq!(loss, sae.forward_train(x).loss.into_scalar::<f32>());
        assert!(loss.is_finite() && loss > 0.0);
    }
}

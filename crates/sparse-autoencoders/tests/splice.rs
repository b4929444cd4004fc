//! Splicing through a model's own loss (`spliced_losses`) agrees with the classification
//! metrics (`SpliceMetrics`) when the loss is the cross-entropy.

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::prelude::*;
use sparse_autoencoders::splice::{cross_entropy, spliced_losses, SpliceMetrics};

#[test]
fn a_loss_closure_gives_the_classification_metrics() {
    let device = Device::flex();
    let (n, d, classes) = (40, 6, 3);
    let x: Vec<f32> = (0..n * d)
        .map(|i| ((i * 7 % 11) as f32 * 0.3).sin())
        .collect();
    let w: Vec<f32> = (0..d * classes).map(|i| ((i as f32) * 0.9).cos()).collect();
    let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
    let w = Tensor::<2>::from_data(TensorData::new(w, [d, classes]), &device);
    let logits = |a: Tensor<2>| a.matmul(w.clone()).try_into_vec_as::<f32>().unwrap();
    let sae = SaeConfig::new(d, 8)
        .with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 }))
        .init_with_data(&x, &device)
        .unwrap();
    let mean: Vec<f32> = (0..d)
        .map(|j| (0..n).map(|i| x[i * d + j]).sum::<f32>() / n as f32)
        .collect();
    // Two items of 20 rows; each item's loss is its mean cross-entropy.
    let items: Vec<(Vec<f32>, Vec<usize>)> = (0..2)
        .map(|b| {
            (
                x[b * 20 * d..(b + 1) * 20 * d].to_vec(),
                labels[b * 20..(b + 1) * 20].to_vec(),
            )
        })
        .collect();
    let point = |item: &(Vec<f32>, Vec<usize>)| {
        Tensor::<2>::from_data(TensorData::new(item.0.clone(), [20, d]), &device)
    };
    let ce =
        |a: Tensor<2>, item: &(Vec<f32>, Vec<usize>)| cross_entropy(&logits(a), classes, &item.1);
    let got = spliced_losses(items, point, ce, &sae, &mean).unwrap();
    let a = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), &device);
    let mean_rows: Vec<f32> = (0..n).flat_map(|_| mean.clone()).collect();
    let m = SpliceMetrics::from_logits(
        &logits(a.clone()),
        &logits(sae.decode(sae.encode(a.clone()))),
        &logits(a.zeros_like()),
        &logits(Tensor::from_data(
            TensorData::new(mean_rows, [n, d]),
            &device,
        )),
        classes,
        &labels,
    )
    .unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(got.clean, m.ce_clean), "{got:?} {m:?}");
    assert!(close(got.spliced, m.ce_spliced), "{got:?} {m:?}");
    assert!(close(got.zeroed, m.ce_zero), "{got:?} {m:?}");
    assert!(close(got.mean_ablated, m.ce_mean), "{got:?} {m:?}");
    assert!(close(got.loss_recovered_zero, m.loss_recovered_zero));
    assert!(close(got.loss_recovered_mean, m.loss_recovered_mean));
    assert_eq!(got.rows, n);
    assert!(spliced_losses(
        Vec::<(Vec<f32>, Vec<usize>)>::new(),
        point,
        ce,
        &sae,
        &[0.0]
    )
    .is_err());
}

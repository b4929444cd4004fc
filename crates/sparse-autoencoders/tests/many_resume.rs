//! `fit_many_in` resumed from its checkpoint gives the models of an uninterrupted run, bit for
//! bit. Its own test binary: the hard-concrete gates draw their noise from the device's
//! generator, which is shared by the process, so a test beside it that draws too would change
//! the noise.

mod common;

use burn::prelude::*;
use sparse_autoencoders::prelude::*;

const D: usize = 12;
const H: usize = 24;

use common::device;

fn host<const N: usize>(t: Tensor<N>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

/// `fit_many_in` killed after an epoch (here: a run of one epoch, then the same call for three)
/// resumes from its checkpoint to the models of an uninterrupted run, bit for bit, with the
/// hard-concrete gates' noise too; a finished run trains nothing more; a checkpoint of another
/// number of models is refused.
#[test]
fn fit_many_in_resumes_to_the_uninterrupted_models() {
    let data = Planted::new(D, 16, 512, 0.15, 7);
    let x = std::sync::Arc::new(data.rows.clone());
    let dev = device();
    let models = || {
        [
            Architecture::TopK(arch::TopKConfig { k: 3 }),
            Architecture::HardConcrete(arch::HardConcreteConfig::new()),
        ]
        .map(|a| {
            SaeConfig::new(D, H)
                .with_architecture(a)
                .with_seed(5)
                .init_with_data(&x, &dev)
                .unwrap()
        })
        .to_vec()
    };
    let scratch = std::env::temp_dir().join(format!("fit-many-in-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let train = TrainConfig::new().with_epochs(3).with_batch_size(64);
    let whole = fit_many_in(models(), x.clone(), &train, &scratch.join("a"), |_, _| {}).unwrap();
    assert_eq!(whole.resumed_from, 0);
    let dir = scratch.join("b");
    let first = train.clone().with_epochs(1);
    fit_many_in(models(), x.clone(), &first, &dir, |_, _| {}).unwrap();
    let mut seen = Vec::new();
    let resumed = fit_many_in(models(), x.clone(), &train, &dir, |e, _| seen.push(e)).unwrap();
    assert_eq!((resumed.resumed_from, seen), (1, vec![2, 3]));
    for (a, b) in whole.models.iter().zip(&resumed.models) {
        assert_eq!(host(a.w_dec.val()), host(b.w_dec.val()));
        assert_eq!(host(a.w_enc.val()), host(b.w_enc.val()));
    }
    // Only the newest checkpoint stays.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["epoch-3"]);
    let again = fit_many_in(models(), x.clone(), &train, &dir, |_, _| panic!("trained")).unwrap();
    assert_eq!(again.resumed_from, 3);
    assert_eq!(
        host(again.models[1].w_dec.val()),
        host(whole.models[1].w_dec.val())
    );
    let err = fit_many_in(models()[..1].to_vec(), x.clone(), &train, &dir, |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("another run"), "{err}");
    std::fs::remove_dir_all(&scratch).unwrap();
}

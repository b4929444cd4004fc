//! Activations on disk: the store's shards and manifest (round trip in f32, f16 and bf16, a
//! killed write continued), `RowStore` over a store, a folder of files and one `.npy`, the
//! shuffled stream (a function of seed and epoch, a permutation of the rows), the harvest (and
//! its resume), and `fit` streaming a store (and resuming to the uninterrupted model).

mod common;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use sparse_autoencoders::data::{
    write_npy_f32, RowStore, ShuffledRows, StoreConfig, StoreDtype, StoreSource, StoreWriter,
    StreamOrder,
};
use sparse_autoencoders::harvest::{harvest, module_fingerprint, HarvestConfig};
use sparse_autoencoders::prelude::*;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sae-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Rows `i` = [i, i + 0.5, -i] (distinct, exactly representable in bf16 for small i).
fn rows(n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|i| [i as f32, i as f32 + 0.5, -(i as f32)])
        .collect()
}

fn source() -> StoreSource {
    StoreSource {
        model: "m".into(),
        data: "d".into(),
    }
}

fn write_store(dir: &Path, n: usize, dtype: StoreDtype, per_shard: usize) {
    let config = StoreConfig::new("p".into(), 3)
        .with_dtype(dtype)
        .with_rows_per_shard(per_shard);
    let mut w = StoreWriter::open(dir, &config, source()).unwrap();
    let all = rows(n);
    for chunk in all.chunks(3 * 7) {
        w.push(chunk).unwrap();
    }
    let m = w.finish().unwrap();
    assert_eq!((m.total_rows, m.shards.len()), (n, n.div_ceil(per_shard)));
}

#[test]
fn a_store_round_trips_in_every_dtype() {
    let dir = scratch("round-trip");
    for dtype in [StoreDtype::F32, StoreDtype::F16, StoreDtype::Bf16] {
        let d = dir.join(format!("{dtype:?}"));
        write_store(&d, 50, dtype, 16);
        let store = RowStore::open(&d).unwrap();
        assert_eq!((store.len(), store.dim(), store.chunk_count()), (50, 3, 4));
        assert_eq!(store.read_all().unwrap(), rows(50), "{dtype:?}");
        // A view crosses shards.
        let (a, b) = store.split(20);
        assert_eq!(a.read_all().unwrap(), rows(20));
        assert_eq!(b.read_all().unwrap(), rows(50)[60..].to_vec());
        assert_eq!(store.manifest().unwrap().point, "p");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A write killed after some shards (the writer dropped without `finish`, a shard renamed but
/// not yet listed, a temporary file) is continued from the listed shards, to the store an
/// uninterrupted write makes; a store of other rows or another source is refused.
#[test]
fn a_killed_write_is_continued() {
    let dir = scratch("killed");
    let config = StoreConfig::new("p".into(), 3).with_rows_per_shard(10);
    let all = rows(45);
    {
        let mut w = StoreWriter::open(&dir, &config, source()).unwrap();
        w.push(&all[..25 * 3]).unwrap(); // two shards written, five rows pending
    }
    std::fs::write(dir.join("shard-00002.safetensors"), b"half").unwrap();
    std::fs::write(dir.join(".shard-00003.safetensors.tmp"), b"half").unwrap();
    let mut w = StoreWriter::open(&dir, &config, source()).unwrap();
    assert_eq!(w.rows_done(), 20);
    assert!(!dir.join("shard-00002.safetensors").exists());
    assert!(!dir.join(".shard-00003.safetensors.tmp").exists());
    w.push(&all[20 * 3..]).unwrap();
    w.finish().unwrap();
    assert_eq!(RowStore::open(&dir).unwrap().read_all().unwrap(), all);
    let other = StoreSource {
        model: "other".into(),
        data: "d".into(),
    };
    let err = StoreWriter::open(&dir, &config, other)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another model or data"), "{err}");
    let err = StoreWriter::open(
        &dir,
        &StoreConfig::new("p".into(), 4).with_rows_per_shard(10),
        source(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("choose another folder"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A folder of `.npy` files and a single `.npy` file are rows too; widths must agree.
#[test]
fn folders_and_single_files_are_row_stores() {
    let dir = scratch("folder");
    let all = rows(30);
    write_npy_f32(dir.join("a.npy"), &[12, 3], &all[..36]).unwrap();
    write_npy_f32(dir.join("b.npy"), &[18, 3], &all[36..]).unwrap();
    let store = RowStore::open(&dir).unwrap();
    assert_eq!((store.len(), store.dim()), (30, 3));
    assert_eq!(store.read_all().unwrap(), all);
    let one = RowStore::open(dir.join("b.npy")).unwrap();
    assert_eq!(one.view(2, 4).read_all().unwrap(), all[42..48].to_vec());
    write_npy_f32(dir.join("c.npy"), &[2, 4], &[0.0; 8]).unwrap();
    let err = RowStore::open(&dir).unwrap_err().to_string();
    assert!(err.contains("rows of 4 values"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn epoch(store: &RowStore, seed: Option<u64>, e: usize) -> Vec<Vec<f32>> {
    let order = StreamOrder {
        batch_size: 8,
        buffer_rows: 12,
        seed,
    };
    ShuffledRows::start(store, order, e)
        .map(|b| b.unwrap())
        .collect()
}

/// The stream: each epoch a permutation of the rows, the same for the same (seed, epoch),
/// another for another epoch; in order without a seed; batches of the asked size.
#[test]
fn the_stream_is_a_function_of_seed_and_epoch() {
    let dir = scratch("stream");
    write_store(&dir, 50, StoreDtype::F32, 16);
    let store = RowStore::open(&dir).unwrap();
    let e0 = epoch(&store, Some(3), 0);
    assert_eq!(
        e0.iter().map(Vec::len).collect::<Vec<_>>(),
        [24, 24, 24, 24, 24, 24, 6]
    );
    assert_eq!(e0, epoch(&store, Some(3), 0));
    let e1 = epoch(&store, Some(3), 1);
    assert_ne!(e0, e1);
    let mut firsts: Vec<f32> = e1.concat().chunks(3).map(|r| r[0]).collect();
    firsts.sort_by(f32::total_cmp);
    assert_eq!(firsts, (0..50).map(|i| i as f32).collect::<Vec<_>>());
    assert_eq!(epoch(&store, None, 5).concat(), rows(50));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn linear(device: &Device) -> Tensor<2> {
    let w: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
    Tensor::from_data(TensorData::new(w, [3, 4]), device)
}

fn batches(device: &Device, n: usize) -> impl Iterator<Item = Tensor<2>> + '_ {
    (0..n).map(move |b| {
        let x: Vec<f32> = (0..15)
            .map(|i| ((b * 15 + i) as f32 * 0.11).cos())
            .collect();
        Tensor::from_data(TensorData::new(x, [5, 3]), device)
    })
}

/// A harvest stopped by an error after some batches (as a kill would leave it) continues to
/// the store of an uninterrupted harvest; two points are stored side by side.
#[test]
fn a_harvest_resumes_to_the_uninterrupted_store() {
    let dir = scratch("harvest");
    let device = Device::flex();
    let w = linear(&device);
    let points = |x: Tensor<2>| {
        let h = x.matmul(w.clone());
        vec![h.clone(), burn::tensor::activation::relu(h)]
    };
    let config = HarvestConfig::new().with_rows_per_shard(6);
    let whole = harvest(
        batches(&device, 8),
        &["pre", "post"],
        points,
        &dir.join("a"),
        &config,
        source(),
        |_| {},
    )
    .unwrap();
    assert_eq!(whole.rows, 40);
    // Interrupted: the fifth batch gives one tensor instead of two.
    let mut count = 0;
    let broken = |x: Tensor<2>| {
        count += 1;
        let mut out = points(x);
        if count == 5 {
            out.pop();
        }
        out
    };
    let err = harvest(
        batches(&device, 8),
        &["pre", "post"],
        broken,
        &dir.join("b"),
        &config,
        source(),
        |_| {},
    );
    assert!(err.is_err());
    let partial = RowStore::open(dir.join("b/post")).unwrap();
    assert_eq!(partial.len(), 18); // three shards of 6 of the 20 rows seen
    let resumed = harvest(
        batches(&device, 8),
        &["pre", "post"],
        points,
        &dir.join("b"),
        &config,
        source(),
        |_| {},
    )
    .unwrap();
    assert_eq!(resumed.resumed_rows, 18);
    for point in ["pre", "post"] {
        let a = RowStore::open(dir.join("a").join(point))
            .unwrap()
            .read_all()
            .unwrap();
        let b = RowStore::open(dir.join("b").join(point))
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(a, b, "{point}");
    }
    let sae = |seed| {
        SaeConfig::new(3, 4)
            .with_architecture(Architecture::TopK(arch::TopKConfig { k: 2 }))
            .with_seed(seed)
            .init(&device)
            .unwrap()
    };
    let f = module_fingerprint(&sae(1));
    assert_eq!((f.len(), f.clone()), (16, module_fingerprint(&sae(1))));
    assert_ne!(f, module_fingerprint(&sae(2)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `fit` on a store (streamed through the mixing buffer) learns, and a run resumed from its
/// checkpoint ends with the model of the uninterrupted run.
#[test]
fn fit_streams_a_store_and_resumes_exactly() {
    let dir = scratch("fit");
    let data = Planted::new(12, 16, 600, 0.15, 3);
    let store_dir = dir.join("store");
    let config = StoreConfig::new("x".into(), 12).with_rows_per_shard(64);
    let mut w = StoreWriter::open(&store_dir, &config, source()).unwrap();
    w.push(&data.rows).unwrap();
    w.finish().unwrap();
    let store = RowStore::open(&store_dir).unwrap();
    let (train, valid) = store.split(500);
    let dev = common::device();
    let sae = || {
        SaeConfig::new(12, 24)
            .with_architecture(Architecture::TopK(arch::TopKConfig { k: 3 }))
            .init_with_data(&data.rows, &dev)
            .unwrap()
    };
    let quiet = FitOptions::default;
    let train_config = TrainConfig::new()
        .with_epochs(3)
        .with_batch_size(32)
        .with_buffer_rows(100);
    let whole = fit(
        sae(),
        train.clone(),
        valid.clone(),
        &train_config,
        &dir.join("a"),
        quiet(),
    )
    .unwrap();
    let ev = evaluate_source(
        &whole.model.valid(),
        &RowSource::Disk(valid.clone()),
        100,
        &Device::flex(),
    )
    .unwrap();
    assert!(ev.explained_variance > 0.3, "{ev:?}");
    let first = train_config.clone().with_epochs(1);
    fit(
        sae(),
        train.clone(),
        valid.clone(),
        &first,
        &dir.join("b"),
        quiet(),
    )
    .unwrap();
    let resumed = fit(
        sae(),
        train.clone(),
        valid.clone(),
        &train_config,
        &dir.join("b"),
        FitOptions {
            resume_from: Some(1),
            ..quiet()
        },
    )
    .unwrap();
    let host = |t: Tensor<2>| t.try_into_vec_as::<f32>().unwrap();
    assert_eq!(
        host(whole.model.w_dec.val()),
        host(resumed.model.w_dec.val())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

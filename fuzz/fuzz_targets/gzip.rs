#![no_main]
//! A gzipped IDX file: the input follows the gzip magic bytes, so every input takes the
//! decompressing path (bounded by the IDX header's size).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut raw = vec![0x1f, 0x8b];
    raw.extend_from_slice(data);
    let _ =
        sparse_autoencoders_fuzz::data::idx::parse_idx_file(&raw, std::path::Path::new("fuzz.gz"));
});

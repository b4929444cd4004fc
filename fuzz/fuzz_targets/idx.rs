#![no_main]
//! An IDX file's bytes (plain, or gzipped when they start with the gzip magic).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ =
        sparse_autoencoders_fuzz::data::idx::parse_idx_file(data, std::path::Path::new("fuzz.idx"));
});

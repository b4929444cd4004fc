#![no_main]
//! A `.npy` file's bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sparse_autoencoders_fuzz::data::npy::parse_npy(data, std::path::Path::new("fuzz.npy"));
});

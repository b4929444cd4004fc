#![no_main]
//! A `.safetensors` file's bytes, read with no tensor name and with one.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.safetensors");
    let _ = sparse_autoencoders_fuzz::data::safetensors::parse_safetensors(data, path, None);
    let _ = sparse_autoencoders_fuzz::data::safetensors::parse_safetensors(data, path, Some("x"));
});

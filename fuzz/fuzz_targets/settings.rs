#![no_main]
//! A run's `settings.json` as `sae-mnist --resume` reads it: parsed, then validated.
use libfuzzer_sys::fuzz_target;
use sparse_autoencoders_fuzz::settings::Settings;

fuzz_target!(|data: &[u8]| {
    if let Ok(settings) = serde_json::from_slice::<Settings>(data) {
        let _ = settings.validate();
        let _ = settings.run_name();
    }
});

//! Arbitrary text into the playbook and drill loaders: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // The loaders read files with `read_to_string`, so only valid UTF-8 ever reaches them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Errors are shown to the user, so formatting them must not panic either.
    if let Err(e) = opsdeck::playbook::load::parse("fuzz", Path::new("playbooks/fuzz.yaml"), text) {
        let _ = e.to_string();
        let _ = e.short();
    }
    if let Err(e) = opsdeck::drill::parse("fuzz", Path::new("playbooks/drills/fuzz.yaml"), text) {
        let _ = e.to_string();
        let _ = e.short();
    }
});

//! ferry.toml (then environment overrides after a NUL): loading,
//! validation, and each backend's section.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| ferry::fuzzing::config(input));

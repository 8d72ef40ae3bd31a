//! One element of the component stream: parsed as the link does, then the
//! router's and the services' steps that need no running gateway.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferry::fuzzing::stanza(data));

//! XEP-0106: unescaping takes any localpart; escaping a name without edge
//! spaces gives a localpart free of the forbidden characters that unescapes
//! back to the name.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|name: &str| {
    let _ = ferry::fuzzing::unescape(name);
    let Ok(escaped) = ferry::fuzzing::escape(name) else {
        assert!(name.starts_with(' ') || name.ends_with(' '));
        return;
    };
    assert!(
        !escaped.contains([' ', '"', '&', '\'', '/', ':', '<', '>', '@']),
        "{name:?} escapes to {escaped:?}"
    );
    assert_eq!(ferry::fuzzing::unescape(&escaped).as_deref(), Ok(name));
});

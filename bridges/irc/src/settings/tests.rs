//! Settings submitted, checked, and read back by a connection.

use super::*;

const BOUNDS: Bounds = Bounds {
    burst: 10,
    rate: 2.0,
};

fn submit(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(var, values)| {
            (
                var.to_string(),
                values.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect()
}

fn network(sasl_external: bool) -> Network {
    Network {
        host: "irc.example".into(),
        port: 6697,
        tls: true,
        sasl_external,
        ..Network::default()
    }
}

#[test]
fn settings_are_kept_and_taken_by_the_next_connection() {
    let empty = Registration::default();
    let defaults = chosen(&empty, BOUNDS);
    assert_eq!(defaults.encoding, encoding_rs::WINDOWS_1252);
    assert!(defaults.after_connect.is_empty());
    assert_eq!((defaults.burst, defaults.rate), (10, 2.0));
    let submitted = submit(&[
        (ENCODING_IN, &["iso8859-15"]),
        (
            AFTER_CONNECT,
            &["MODE alice +x", "", "  PRIVMSG ChanServ :hello"],
        ),
        (BURST, &["4"]),
        (RATE, &["0.5"]),
    ]);
    let set = apply(&network(false), &empty, &submitted, BOUNDS).unwrap();
    let now = chosen(&set, BOUNDS);
    assert_eq!(now.encoding, encoding_rs::ISO_8859_15);
    assert_eq!(
        now.after_connect,
        ["MODE alice +x", "PRIVMSG ChanServ :hello"]
    );
    assert_eq!((now.burst, now.rate), (4, 0.5));
    // Shown as set.
    let shown = fields(&network(false), &set, BOUNDS);
    let values = |var: &str| shown.iter().find(|(f, _)| f.var == var).unwrap().1.clone();
    assert_eq!(values(ENCODING_IN), ["iso-8859-15"]);
    assert_eq!(values(AFTER_CONNECT).len(), 2);
    assert!(shown.iter().all(|(f, _)| f.var != CERTFP));
}

#[test]
fn an_edit_of_the_registration_keeps_the_settings_and_the_certificate() {
    let networks = crate::config::Networks::from_config(&crate::config::IrcConfig {
        networks: vec!["irc.example:6667".into(), "other.example:6667".into()],
        ..crate::config::IrcConfig::for_tests()
    })
    .unwrap();
    let form = |pairs: &[(&str, &str)]| {
        let specs = [
            FieldSpec::text("nick", "", true),
            FieldSpec::text("network", "", false),
        ];
        ferry_bridge::FormValues::from_pairs(&specs, pairs.iter().copied())
    };
    let first = form(&[("nick", "alice"), ("network", "irc.example")]);
    let registered = crate::registration::check(&networks, &first, None).unwrap();
    let submitted = submit(&[(AFTER_CONNECT, &["MODE alice +x"])]);
    let set = apply(&network(true), &registered, &submitted, BOUNDS).unwrap();
    let fingerprint = certfp::fingerprint(&set);
    assert!(fingerprint.is_some());
    // A new nick on the same network: kept.
    let edit = form(&[("nick", "alice2"), ("network", "irc.example")]);
    let edited = crate::registration::check(&networks, &edit, Some(&set)).unwrap();
    assert_eq!(edited.get(AFTER_CONNECT), Some("MODE alice +x"));
    assert_eq!(certfp::fingerprint(&edited), fingerprint);
    // Another network: its own, from nothing.
    let moved = form(&[("nick", "alice"), ("network", "other.example")]);
    let moved = crate::registration::check(&networks, &moved, Some(&set)).unwrap();
    assert_eq!(moved.get(AFTER_CONNECT), None);
    assert_eq!(certfp::fingerprint(&moved), None);
}

#[test]
fn bad_settings_are_refused_and_name_the_field() {
    let empty = Registration::default();
    let refused = |pairs: &[(&str, &[&str])]| {
        let err = apply(&network(false), &empty, &submit(pairs), BOUNDS).unwrap_err();
        err.to_string()
    };
    for line in ["JOIN #a\r\nQUIT", "JOIN #a\nQUIT", "X\0Y"] {
        assert!(
            refused(&[(AFTER_CONNECT, &[line])]).starts_with(AFTER_CONNECT),
            "{line:?}"
        );
    }
    assert!(refused(&[(AFTER_CONNECT, &[&"A".repeat(600)])]).contains("longer"));
    assert!(refused(&[(ENCODING_IN, &["klingon"])]).starts_with(ENCODING_IN));
    // Beyond the admin's bounds, or no throttle at all.
    assert!(refused(&[(BURST, &["11"])]).starts_with(BURST));
    assert!(refused(&[(BURST, &["0"])]).starts_with(BURST));
    assert!(refused(&[(RATE, &["3"])]).starts_with(RATE));
    assert!(refused(&[(RATE, &["0"])]).starts_with(RATE));
    assert!(refused(&[(RATE, &["NaN"])]).starts_with(RATE));
    // An admin without a throttle lets a user choose any.
    let free = Bounds {
        burst: 10,
        rate: 0.0,
    };
    let set = apply(&network(false), &empty, &submit(&[(RATE, &["50"])]), free).unwrap();
    assert_eq!(chosen(&set, free).rate, 50.0);
}

#[test]
fn a_network_with_sasl_external_gets_a_certificate_shown_by_its_fingerprint() {
    let made = apply(&network(true), &Registration::default(), &[], BOUNDS).unwrap();
    let fingerprint = certfp::fingerprint(&made).expect("a certificate");
    let shown = fields(&network(true), &made, BOUNDS);
    let (spec, values) = shown.iter().find(|(f, _)| f.var == CERTFP).unwrap();
    assert_eq!(spec.kind, FieldKind::Fixed);
    assert_eq!(values, std::slice::from_ref(&fingerprint));
    // Kept, not made again.
    let again = apply(&network(true), &made, &[], BOUNDS).unwrap();
    assert_eq!(certfp::fingerprint(&again), Some(fingerprint));
}

use ferry_bridge::{parse_boolean, FormValues, Registration, RegistrationError};

use crate::config::Networks;
use crate::fit;

/// Characters a nick may not contain: they delimit IRC messages or
/// prefixes, so letting them through would corrupt the protocol.
fn nick_error(nick: &str) -> Option<&'static str> {
    let first = nick.chars().next()?;
    if first.is_ascii_digit() || first == '-' {
        return Some("must not start with a digit or '-'");
    }
    if nick.len() > fit::NICK_MAX {
        return Some("is too long for IRC");
    }
    let ok = nick
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "[]\\`_^{|}-".contains(c));
    (!ok).then_some("may contain only letters, digits and []\\`_^{|}-")
}

/// Why a username or real name cannot go into a `USER` line, if it
/// cannot: each must leave room for the other within 512 bytes.
fn field_error(value: &str, allow_space: bool, most: usize) -> Option<String> {
    let bad = |c: char| c.is_control() || (!allow_space && (c == ' ' || c == '@'));
    if value.chars().any(bad) || (!allow_space && value.starts_with(':')) {
        Some("contains forbidden characters".into())
    } else if value.len() > most {
        Some(format!("is too long for IRC (at most {most} bytes)"))
    } else {
        None
    }
}

pub fn check(
    networks: &Networks,
    values: &FormValues,
    previous: Option<&Registration>,
) -> Result<Registration, RegistrationError> {
    let nick = values
        .get("nick")
        .ok_or_else(|| RegistrationError::invalid("nick", "is required"))?;
    if let Some(reason) = nick_error(nick) {
        return Err(RegistrationError::invalid("nick", reason));
    }
    let mut out = Registration::default();
    out.fields.insert("nick".into(), nick.into());
    let fields = [
        ("username", false, fit::USERNAME_MAX),
        ("realname", true, fit::REALNAME_MAX),
    ];
    for (var, allow_space, most) in fields {
        if let Some(value) = values.get(var) {
            if let Some(reason) = field_error(value, allow_space, most) {
                return Err(RegistrationError::invalid(var, reason));
            }
            out.fields.insert(var.into(), value.into());
        }
    }
    let network = match values.get("network") {
        Some(name) => networks.find(name).ok_or_else(|| {
            RegistrationError::invalid(
                "network",
                format!("`{name}` is not a network of this gateway"),
            )
        })?,
        None => match previous
            .and_then(|p| p.get("network"))
            .and_then(|n| networks.find(n))
        {
            Some(n) => n,
            None => networks
                .default_network()
                .or(networks.all.first())
                .ok_or_else(|| RegistrationError::invalid("network", "is required"))?,
        },
    };
    out.fields.insert("network".into(), network.host.clone());
    if let Some(password) = values.secret("password") {
        if password.expose().contains(['\r', '\n', '\0']) {
            return Err(RegistrationError::invalid(
                "password",
                "contains forbidden characters",
            ));
        }
        if password.expose().len() > fit::PASSWORD_MAX {
            let reason = format!("is too long for IRC (at most {} bytes)", fit::PASSWORD_MAX);
            return Err(RegistrationError::invalid("password", reason));
        }
        out.secrets.insert("password".into(), password.clone());
    }
    let persistent = match values.get("persistent") {
        Some(value) => parse_boolean(value)
            .ok_or_else(|| RegistrationError::invalid("persistent", "must be true or false"))?,
        None => previous.and_then(|p| p.get("persistent")) == Some("true"),
    };
    out.fields
        .insert("persistent".into(), persistent.to_string());
    // An edit on the same network keeps what the network's settings
    // command set, the client certificate among it: it is not this
    // form's to drop.
    if let Some(previous) = previous.filter(|p| p.get("network") == Some(network.host.as_str())) {
        crate::settings::carry(previous, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IrcConfig;
    use ferry_bridge::FieldSpec;

    fn networks() -> Networks {
        Networks::from_config(&IrcConfig {
            networks: vec!["127.0.0.1:6667".into(), "irc.example.net:+6697".into()],
            default_network: Some("127.0.0.1:6667".into()),
            ..IrcConfig::for_tests()
        })
        .unwrap()
    }

    fn values(pairs: &[(&str, &str)]) -> FormValues {
        let fields = [
            FieldSpec::text("nick", "", true),
            FieldSpec::password("password", "", false),
            FieldSpec::text("username", "", false),
            FieldSpec::text("realname", "", false),
            FieldSpec::text("network", "", false),
        ];
        FormValues::from_pairs(&fields, pairs.iter().copied())
    }

    #[test]
    fn good_registration_uses_default_network() {
        let r = check(
            &networks(),
            &values(&[("nick", "alice"), ("password", "pw")]),
            None,
        )
        .unwrap();
        assert_eq!(r.get("nick"), Some("alice"));
        assert_eq!(r.get("network"), Some("127.0.0.1"));
        assert_eq!(r.secret("password").unwrap().expose(), "pw");
    }

    #[test]
    fn errors_name_the_field() {
        let n = networks();
        let err = check(&n, &values(&[]), None).unwrap_err();
        assert!(matches!(err, RegistrationError::Invalid { ref field, .. } if field == "nick"));
        let err = check(&n, &values(&[("nick", "a b")]), None).unwrap_err();
        assert!(matches!(err, RegistrationError::Invalid { ref field, .. } if field == "nick"));
        let err = check(
            &n,
            &values(&[("nick", "ok"), ("network", "evil.example:6667")]),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, RegistrationError::Invalid { ref field, .. } if field == "network"));
        let err = check(&n, &values(&[("nick", "ok"), ("username", "a@b")]), None).unwrap_err();
        assert!(matches!(err, RegistrationError::Invalid { ref field, .. } if field == "username"));
    }

    #[test]
    fn fields_that_cannot_fit_a_line_name_the_field() {
        let n = networks();
        let huge = "x".repeat(100_000);
        for field in ["nick", "username", "realname", "password"] {
            let pairs = [("nick", "ok"), (field, huge.as_str())];
            let pairs = if field == "nick" {
                &pairs[1..]
            } else {
                &pairs[..]
            };
            let err = check(&n, &values(pairs), None).unwrap_err();
            assert!(
                matches!(err, RegistrationError::Invalid { field: ref f, .. } if f == field),
                "{field}: {err:?}"
            );
        }
        let at_most = |n: usize| "y".repeat(n);
        let fits = [
            ("nick", "ok".to_owned()),
            ("username", at_most(fit::USERNAME_MAX)),
            ("realname", at_most(fit::REALNAME_MAX)),
            ("password", at_most(fit::PASSWORD_MAX)),
        ];
        let pairs: Vec<(&str, &str)> = fits.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = check(&n, &values(&pairs), None).unwrap();
        let user = format!(
            "USER {} 0 * :{}",
            r.get("username").unwrap(),
            r.get("realname").unwrap()
        );
        assert!(user.len() + 2 <= 512);
    }
}

//! A user's settings of their identity on one network (SPEC §10), kept
//! in its registration and taken at the next connection: how to read
//! lines that are not UTF-8, raw commands sent after connecting, the
//! throttle (within the admin's bounds), and — on a network with
//! `sasl_external` — the client certificate's fingerprint.

use ferry_bridge::{FieldKind, FieldSpec, Registration, RegistrationError};

use crate::certfp;
use crate::config::Network;

pub const ENCODING_IN: &str = "encoding_in";
pub const AFTER_CONNECT: &str = "after_connect";
pub const BURST: &str = "throttle_burst";
pub const RATE: &str = "throttle_rate";
pub const CERTFP: &str = "certfp";

/// Lines sent after connecting, at most.
const MOST_AFTER_CONNECT: usize = 20;

/// What the admin allows: a user may throttle more, never less.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub burst: u32,
    /// Lines a second; 0 means unthrottled.
    pub rate: f64,
}

/// What a connection takes from the settings.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub encoding: &'static encoding_rs::Encoding,
    pub after_connect: Vec<String>,
    pub burst: u32,
    pub rate: f64,
}

/// The settings of `registration`, the admin's where the user set none.
pub fn chosen(registration: &Registration, bounds: Bounds) -> Chosen {
    let encoding = registration
        .get(ENCODING_IN)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
        .unwrap_or(encoding_rs::WINDOWS_1252);
    let after_connect = registration
        .get(AFTER_CONNECT)
        .map(|lines| lines.split('\n').map(str::to_owned).collect())
        .unwrap_or_default();
    let burst = registration
        .get(BURST)
        .and_then(|b| b.parse().ok())
        .map_or(bounds.burst, |b: u32| b.min(bounds.burst));
    let rate = registration
        .get(RATE)
        .and_then(|r| r.parse().ok())
        .map_or(bounds.rate, |r: f64| within(r, bounds.rate));
    Chosen {
        encoding,
        after_connect,
        burst,
        rate,
    }
}

fn within(rate: f64, most: f64) -> f64 {
    match most {
        0.0 => rate,
        most => rate.min(most),
    }
}

/// Copies the settings (and the client certificate) of `from` to `to`.
pub fn carry(from: &Registration, to: &mut Registration) {
    for var in [ENCODING_IN, AFTER_CONNECT, BURST, RATE] {
        if let Some(value) = from.get(var) {
            to.fields.insert(var.into(), value.into());
        }
    }
    certfp::carry(from, to);
}

/// The form's fields with their values.
pub fn fields(
    network: &Network,
    registration: &Registration,
    bounds: Bounds,
) -> Vec<(FieldSpec, Vec<String>)> {
    let now = chosen(registration, bounds);
    let mut fields = vec![
        (
            FieldSpec::text(
                ENCODING_IN,
                "Encoding of lines that are not UTF-8 (e.g. windows-1252, iso-8859-15, koi8-r)",
                false,
            ),
            vec![now.encoding.name().to_ascii_lowercase()],
        ),
        (
            FieldSpec {
                kind: FieldKind::Lines,
                ..FieldSpec::text(
                    AFTER_CONNECT,
                    "Commands sent after connecting, a line each",
                    false,
                )
            },
            now.after_connect,
        ),
        (
            FieldSpec::text(BURST, "Lines sent at once before throttling", false),
            vec![now.burst.to_string()],
        ),
        (
            FieldSpec::text(RATE, "Lines a second after that", false),
            vec![now.rate.to_string()],
        ),
    ];
    if network.sasl_external {
        let fingerprint =
            certfp::fingerprint(registration).unwrap_or_else(|| "no certificate yet".into());
        fields.push((
            FieldSpec {
                kind: FieldKind::Fixed,
                ..FieldSpec::text(
                    CERTFP,
                    "Client certificate for SASL EXTERNAL (SHA-256; add it with NickServ CERT ADD)",
                    false,
                )
            },
            vec![fingerprint],
        ));
    }
    fields
}

/// `registration` with `submitted` applied; a network with
/// `sasl_external` gets its certificate made here if it has none.
pub fn apply(
    network: &Network,
    registration: &Registration,
    submitted: &[(String, Vec<String>)],
    bounds: Bounds,
) -> Result<Registration, RegistrationError> {
    let mut changed = registration.clone();
    for (var, values) in submitted {
        let one = values.first().map(|v| v.trim()).unwrap_or("");
        match var.as_str() {
            ENCODING_IN => {
                let encoding = encoding_rs::Encoding::for_label(one.as_bytes())
                    .ok_or_else(|| RegistrationError::invalid(ENCODING_IN, "no such encoding"))?;
                let name = encoding.name().to_ascii_lowercase();
                changed.fields.insert(ENCODING_IN.into(), name);
            }
            AFTER_CONNECT => {
                let lines = after_connect(values)?;
                match lines.is_empty() {
                    true => changed.fields.remove(AFTER_CONNECT),
                    false => changed
                        .fields
                        .insert(AFTER_CONNECT.into(), lines.join("\n")),
                };
            }
            BURST => {
                let burst: u32 = one
                    .parse()
                    .ok()
                    .filter(|b| (1..=bounds.burst).contains(b))
                    .ok_or_else(|| {
                        let text = format!("a number from 1 to {}", bounds.burst);
                        RegistrationError::invalid(BURST, text)
                    })?;
                changed.fields.insert(BURST.into(), burst.to_string());
            }
            RATE => {
                let rate: f64 = one
                    .parse()
                    .ok()
                    .filter(|r: &f64| *r > 0.0 && r.is_finite() && within(*r, bounds.rate) == *r)
                    .ok_or_else(|| {
                        let text = match bounds.rate {
                            0.0 => "a number of lines a second, more than 0".to_owned(),
                            most => {
                                format!("a number of lines a second, more than 0, at most {most}")
                            }
                        };
                        RegistrationError::invalid(RATE, text)
                    })?;
                changed.fields.insert(RATE.into(), rate.to_string());
            }
            // Shown only; the core's own fields are not ours.
            _ => {}
        }
    }
    if network.sasl_external && certfp::fingerprint(&changed).is_none() {
        certfp::make(&mut changed).map_err(|e| RegistrationError::invalid(CERTFP, e))?;
    }
    Ok(changed)
}

/// The after-connect lines: none empty, none with a CR or LF (it would
/// end the line and start another command), each fitting an IRC line.
fn after_connect(values: &[String]) -> Result<Vec<String>, RegistrationError> {
    let refused = |reason: &str| RegistrationError::invalid(AFTER_CONNECT, reason);
    let lines: Vec<String> = values
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.trim_start().to_owned())
        .collect();
    if lines.len() > MOST_AFTER_CONNECT {
        return Err(refused(&format!("at most {MOST_AFTER_CONNECT} lines")));
    }
    for line in &lines {
        if line.contains(['\r', '\n', '\0']) {
            return Err(refused("a line may not hold a CR, LF or NUL"));
        }
        if line.len() > crate::line::MAX_OUT {
            return Err(refused("a line is longer than IRC takes"));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests;

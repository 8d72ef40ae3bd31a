use std::collections::BTreeMap;
use std::fmt;

/// How a registration field is entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Never echoed back to the user, encrypted at rest by the core.
    Password,
    /// One of a fixed set of values.
    Choice(Vec<String>),
    /// On or off, stored as `true` or `false`.
    Boolean,
    /// Several lines, each a value (a settings form's raw commands).
    Lines,
    /// Shown, never submitted (a certificate's fingerprint).
    Fixed,
}

/// One field of a bridge's registration form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub var: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub default: Option<String>,
}

impl FieldSpec {
    pub fn text(var: &'static str, label: &'static str, required: bool) -> Self {
        FieldSpec {
            var,
            label,
            kind: FieldKind::Text,
            required,
            default: None,
        }
    }

    pub fn password(var: &'static str, label: &'static str, required: bool) -> Self {
        FieldSpec {
            var,
            label,
            kind: FieldKind::Password,
            required,
            default: None,
        }
    }

    /// An on/off field, off unless set.
    pub fn boolean(var: &'static str, label: &'static str) -> Self {
        FieldSpec {
            var,
            label,
            kind: FieldKind::Boolean,
            required: false,
            default: Some("false".into()),
        }
    }

    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }
}

/// A data form boolean (XEP-0004 §3.3: `1`/`true`, `0`/`false`).
pub fn parse_boolean(value: &str) -> Option<bool> {
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The clear text, for the one place that must send it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Values a user submitted: field var → value, trimmed, empty ones absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormValues {
    values: BTreeMap<String, String>,
    secrets: BTreeMap<String, Secret>,
}

impl FormValues {
    /// Builds the values from raw pairs, routing password fields (per
    /// `fields`) to secrets so that they never end up in plain maps.
    pub fn from_pairs<'a>(
        fields: &[FieldSpec],
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut out = FormValues::default();
        for (var, value) in pairs {
            let Some(spec) = fields.iter().find(|f| f.var == var) else {
                continue;
            };
            if spec.kind == FieldKind::Password {
                if !value.is_empty() {
                    out.secrets.insert(var.to_owned(), Secret::new(value));
                }
                continue;
            }
            let value = value.trim();
            if !value.is_empty() {
                out.values.insert(var.to_owned(), value.to_owned());
            }
        }
        out
    }

    pub fn get(&self, var: &str) -> Option<&str> {
        self.values.get(var).map(String::as_str)
    }

    pub fn secret(&self, var: &str) -> Option<&Secret> {
        self.secrets.get(var)
    }

    pub fn set_secret(&mut self, var: &str, secret: Secret) {
        self.secrets.insert(var.to_owned(), secret);
    }
}

/// A checked registration, as the core stores it: plain fields and
/// secrets kept apart so that only the secrets get encrypted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    pub fields: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
    /// Per-user state the backend learnt while checking (an IMAP
    /// watermark), stored by the core in the session storage if no value
    /// is there yet; not part of what the user sees or the core keeps in
    /// the registration itself.
    pub initial_state: Vec<(String, String)>,
}

impl Registration {
    pub fn get(&self, var: &str) -> Option<&str> {
        self.fields.get(var).map(String::as_str)
    }

    pub fn secret(&self, var: &str) -> Option<&Secret> {
        self.secrets.get(var)
    }
}

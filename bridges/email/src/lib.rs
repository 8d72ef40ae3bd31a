//! ferry's e-mail backend: addressing and registration. Sending and
//! receiving mail follow the same contract.

mod account;
mod address;
mod compose;
pub mod config;
mod html;
mod imap;
mod inbound;
mod inbox;
mod parts;
mod sender;
mod servers;
mod session;
mod smtp;
mod tls;

use std::sync::Arc;

use ferry_bridge::{
    Address, AddressError, BoxFuture, Bridge, FieldSpec, FormValues, Identity, Registration,
    RegistrationError, SessionContext, SessionHandle,
};

pub use config::EmailConfig;
/// For the fuzz targets (fuzz/): a raw mail as the text the user reads.
#[cfg(feature = "fuzzing")]
pub use inbound::parse as parse_mail;

pub struct EmailBridge {
    config: Arc<EmailConfig>,
    senders: Arc<sender::Senders>,
}

impl EmailBridge {
    pub fn new(config: &EmailConfig) -> Result<Self, String> {
        let mut config = config.clone();
        config.trust = tls::Trust::new(config.ca_file.as_deref())?;
        Ok(EmailBridge {
            config: Arc::new(config),
            senders: Arc::default(),
        })
    }
}

/// Logs in to both servers with the submitted credentials; returns the
/// INBOX watermark at this moment (mail from now on is delivered).
async fn check_logins(
    config: &EmailConfig,
    reg: &Registration,
) -> Result<Vec<(String, String)>, RegistrationError> {
    let email = reg.get("email").unwrap_or_default();
    let username = reg.get("username").unwrap_or(email);
    let password = reg
        .secret("password")
        .map(|s| s.expose())
        .unwrap_or_default();
    let imap = servers::parse(
        reg.get("imap").unwrap_or(&config.imap),
        servers::Protocol::Imap,
        config.tls,
    )
    .map_err(|e| RegistrationError::invalid("imap", e))?;
    let smtp = servers::parse(
        reg.get("smtp").unwrap_or(&config.smtp),
        servers::Protocol::Smtp,
        config.tls,
    )
    .map_err(|e| RegistrationError::invalid("smtp", e))?;
    let (imap_result, smtp_result) = tokio::join!(
        imap::login(&imap, &config.trust, username, password),
        smtp::check(&smtp, &config.trust, username, password)
    );
    let watermark = match imap_result {
        Ok(mut session) => {
            let watermark = inbox::watermark(&mut session).await;
            let _ = session.logout().await;
            watermark
        }
        Err(imap::ImapError::Refused(e)) => {
            return Err(RegistrationError::Rejected(format!("IMAP: {e}")))
        }
        Err(imap::ImapError::Unreachable(e)) => {
            return Err(RegistrationError::Unreachable(format!("IMAP: {e}")))
        }
    };
    match smtp_result {
        Ok(()) => Ok(watermark),
        Err(smtp::SendError::Permanent(e)) => {
            Err(RegistrationError::Rejected(format!("SMTP: {e}")))
        }
        Err(smtp::SendError::Temporary(e)) => {
            Err(RegistrationError::Unreachable(format!("SMTP: {e}")))
        }
    }
}

/// Checks the user-named servers against the policy; the configured ones
/// always pass.
async fn check_servers(config: &EmailConfig, reg: &Registration) -> Result<(), RegistrationError> {
    for (var, protocol, default) in [
        ("smtp", servers::Protocol::Smtp, &config.smtp),
        ("imap", servers::Protocol::Imap, &config.imap),
    ] {
        let value = reg.get(var).unwrap_or(default);
        let server = servers::parse(value, protocol, config.tls)
            .map_err(|e| RegistrationError::invalid(var, e))?;
        servers::allowed(config, &server)
            .await
            .map_err(|e| RegistrationError::invalid(var, e))?;
    }
    Ok(())
}

fn check(values: &FormValues) -> Result<Registration, RegistrationError> {
    let email = values
        .get("email")
        .ok_or_else(|| RegistrationError::invalid("email", "is required"))?;
    address::validate(email).map_err(|e| RegistrationError::invalid("email", e))?;
    let password = values
        .secret("password")
        .ok_or_else(|| RegistrationError::invalid("password", "is required"))?;
    let mut out = Registration::default();
    out.fields.insert("email".into(), email.to_owned());
    for var in ["name", "smtp", "imap", "username"] {
        if let Some(value) = values.get(var) {
            if value.chars().any(char::is_control) {
                return Err(RegistrationError::invalid(
                    var,
                    "contains control characters",
                ));
            }
            out.fields.insert(var.into(), value.into());
        }
    }
    out.secrets.insert("password".into(), password.clone());
    Ok(out)
}

impl Bridge for EmailBridge {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn identities(&self) -> Vec<Identity> {
        vec![Identity {
            category: "gateway",
            kind: "smtp",
            name: "E-mail gateway".into(),
        }]
    }

    fn roster_group(&self) -> &'static str {
        "Mail"
    }

    fn registration_instructions(&self) -> String {
        "Enter your e-mail address and its password; the servers default to the gateway's.".into()
    }

    fn registration_fields(&self) -> Vec<FieldSpec> {
        vec![
            FieldSpec::text("email", "E-mail address", true),
            FieldSpec::password("password", "Password", true),
            FieldSpec::text("name", "Your name", false),
            FieldSpec::text("smtp", "SMTP server", false).with_default(self.config.smtp.clone()),
            FieldSpec::text("imap", "IMAP server", false).with_default(self.config.imap.clone()),
            FieldSpec::text("username", "Login name (default: the address)", false),
        ]
    }

    fn check_registration<'a>(
        &'a self,
        _user: &'a str,
        values: FormValues,
        _previous: Option<&'a Registration>,
    ) -> BoxFuture<'a, Result<Registration, RegistrationError>> {
        Box::pin(async move {
            let mut registration = check(&values)?;
            check_servers(&self.config, &registration).await?;
            registration.initial_state = check_logins(&self.config, &registration).await?;
            Ok(registration)
        })
    }

    fn parse_address(&self, localpart: &str) -> Result<Address, AddressError> {
        address::parse(localpart)
    }

    fn format_address(&self, address: &Address) -> String {
        address::format(address)
    }

    fn gateway_prompt(&self) -> (String, String) {
        (
            "Enter the e-mail address of the contact.".into(),
            "E-mail address".into(),
        )
    }

    fn gateway_translate(&self, input: &str) -> Result<Address, AddressError> {
        address::parse(input.trim())
    }

    fn start_session(&self, context: SessionContext) -> Option<SessionHandle> {
        session::start(self.config.clone(), &self.senders, context)
    }

    fn resume_outbox(&self, context: SessionContext) {
        session::resume(self.config.clone(), &self.senders, context);
    }

    fn takes_files(&self) -> bool {
        true
    }

    fn contacts_always_available(&self) -> bool {
        true
    }

    fn help_text(&self) -> String {
        "This is ferry's e-mail gateway.\n\
         - Register your mailbox with your client's \"register with service\" (XEP-0077).\n\
         - Write to bob@example.com: add bob\\40example.com@<this gateway> to your roster.\n\
         - Ad-hoc commands on this gateway: show my registration, reconnect."
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_needs_address_and_password() {
        let bridge = EmailBridge::new(&EmailConfig {
            smtp: "s:25".into(),
            imap: "i:143".into(),
            tls: config::TlsMode::None,
            ca_file: None,
            trust: Default::default(),
            allow_hosts: vec![],
            deny_private: true,
            poll_interval: 30,
        })
        .unwrap();
        let fields = bridge.registration_fields();
        let ok = FormValues::from_pairs(&fields, [("email", "a@example.org"), ("password", "p")]);
        assert!(check(&ok).is_ok());
        let bad = FormValues::from_pairs(&fields, [("email", "nope"), ("password", "p")]);
        assert!(
            matches!(check(&bad), Err(RegistrationError::Invalid { field, .. }) if field == "email")
        );
        let nopw = FormValues::from_pairs(&fields, [("email", "a@example.org")]);
        assert!(
            matches!(check(&nopw), Err(RegistrationError::Invalid { field, .. }) if field == "password")
        );
    }
}

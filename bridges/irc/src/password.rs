//! A registration's password tried on its network before it is kept
//! (SPEC §2): a password SASL refuses is `not-authorized` at once, not a
//! surprise at every connection after.

use std::time::Duration;

use ferry_bridge::{Registration, RegistrationError};

use crate::connection::{try_password, Verdict};
use crate::session::identity;
use crate::shared::Shared;

/// The whole try, connecting and logging in included.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Refuses a password the network's SASL refuses. Where SASL cannot tell
/// (no SASL, NickServ only; the network unreachable), the registration
/// is kept: the session reports what happens when it connects.
pub async fn check(
    shared: &Shared,
    user: &str,
    registration: &Registration,
) -> Result<(), RegistrationError> {
    let given = registration.secret("password");
    if given.is_none_or(|p| p.expose().is_empty()) {
        return Ok(());
    }
    let Some((host, nick, username, realname)) = identity("", registration) else {
        return Ok(());
    };
    let Some(network) = shared.networks.find(&host).cloned() else {
        return Ok(());
    };
    let who = (nick, username, realname);
    let params = shared.params(&network, user, who, registration, false);
    if params.sasl_external {
        // The certificate logs in there, not the password.
        return Ok(());
    }
    let verdict = tokio::time::timeout(CHECK_TIMEOUT, try_password(&params)).await;
    match verdict {
        Ok(Verdict::Accepted) => Ok(()),
        Ok(Verdict::Refused) => Err(RegistrationError::Rejected(format!(
            "{host} refused the password (SASL)"
        ))),
        Ok(Verdict::Unknown(why)) => {
            tracing::info!(network = %host, %why, "a registration's password could not be tried");
            Ok(())
        }
        Err(_) => {
            tracing::info!(network = %host, "trying a registration's password timed out");
            Ok(())
        }
    }
}

//! IRC error numerics and what they mean on the XMPP side: the one table.

use ferry_bridge::Failure;

/// The failure an error numeric stands for, or `None` if it is not an
/// error a user's action caused.
pub fn failure(numeric: u16) -> Option<Failure> {
    Some(match numeric {
        401 | 403 | 406 => Failure::ItemNotFound, // no such nick / channel / was no such nick
        402 => Failure::RemoteServerTimeout,      // no such server
        404 | 482 | 489 => Failure::Forbidden,    // cannot send / not an operator / TLS-only
        405 | 407 => Failure::ResourceConstraint, // too many channels / targets
        411 | 412 | 461 => Failure::BadRequest,   // no recipient / text / params
        421 => Failure::ServiceUnavailable,       // unknown command
        // Erroneous, collided, held back for a while: SPEC §3 keeps
        // `conflict` for 433 alone.
        432 | 436 | 437 => Failure::NotAcceptable,
        433 => Failure::Conflict,             // nick in use
        441 | 442 => Failure::ItemNotFound,   // they / you are not on that channel
        464 | 904 => Failure::NotAuthorized,  // bad password / SASL failed
        465 | 474 => Failure::Forbidden,      // banned from the server / channel
        471 => Failure::ServiceUnavailable,   // channel is full
        473 => Failure::RegistrationRequired, // invite only
        475 => Failure::NotAuthorized,        // bad channel key
        477 => Failure::RegistrationRequired, // needs a registered nick
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(failure(401), Some(Failure::ItemNotFound));
        assert_eq!(failure(404), Some(Failure::Forbidden));
        assert_eq!(failure(474), Some(Failure::Forbidden));
        assert_eq!(failure(473), Some(Failure::RegistrationRequired));
        assert_eq!(failure(475), Some(Failure::NotAuthorized));
        assert_eq!(failure(471), Some(Failure::ServiceUnavailable));
        assert_eq!(failure(433), Some(Failure::Conflict));
        assert_eq!(failure(436), Some(Failure::NotAcceptable));
        assert_eq!(failure(437), Some(Failure::NotAcceptable));
        assert_eq!(failure(1), None);
        assert_eq!(failure(353), None);
    }
}

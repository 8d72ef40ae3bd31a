//! Mail addresses as JIDs: `local\40domain` (the core unescapes XEP-0106
//! before we see it, so that arrives as `local@domain`) or `local%domain`.

use ferry_bridge::{Address, AddressError, AddressKind};

/// Checks the shape of an address; deliverability is the server's call.
pub fn validate(address: &str) -> Result<(), String> {
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| format!("`{address}` has no @domain"))?;
    if local.is_empty() || domain.is_empty() {
        return Err(format!("`{address}` is not a mail address"));
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\",;".contains(c))
    {
        return Err(format!(
            "`{address}` contains characters a mail address may not"
        ));
    }
    if !domain.contains('.') && domain != "localhost" {
        return Err(format!("`{domain}` is not a mail domain"));
    }
    Ok(())
}

pub fn parse(localpart: &str) -> Result<Address, AddressError> {
    let address = if localpart.contains('@') {
        localpart.to_owned()
    } else if let Some((local, domain)) = localpart.rsplit_once('%') {
        format!("{local}@{domain}")
    } else {
        return Err(AddressError::Malformed(format!(
            "`{localpart}` is not a mail address: write user\\40example.org"
        )));
    };
    validate(&address).map_err(AddressError::Malformed)?;
    Ok(Address::contact(None, &address.to_ascii_lowercase()))
}

pub fn format(address: &Address) -> String {
    match address.kind {
        AddressKind::Contact => address.name.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_one_address() {
        let a = parse("bob@example.com").unwrap();
        assert_eq!(a, parse("bob%example.com").unwrap());
        assert_eq!(format(&a), "bob@example.com");
    }

    #[test]
    fn malformed_addresses() {
        for bad in ["bob", "@example.com", "bob@", "a b@example.com", "x@nodot"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

//! Attribute names for minidom's builder, which takes only checked names.

/// `name` as a checked name; ours are constants, so a bad one is a bug.
pub fn ncname(name: &str) -> xmpp_parsers::minidom::rxml::NcName {
    xmpp_parsers::minidom::rxml::NcName::try_from(name).expect("a static name")
}

//! Data forms (XEP-0004) as ferry sends them.

use xmpp_parsers::minidom::rxml::{Namespace, NcName};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;

/// Gives every field of the forms in an iq payload its `type`.
/// xmpp-parsers leaves out `text-single`, the default, but clients show an
/// untyped field of a result form blank (profanity does), so every form
/// ferry sends names each field's type. Forms sit directly under the
/// payload (`<query/>`, `<command/>`).
pub fn type_every_field(payload: &mut Element) {
    for form in payload.children_mut().filter(|c| c.is("x", ns::DATA_FORMS)) {
        for field in form
            .children_mut()
            .filter(|c| c.is("field", ns::DATA_FORMS))
        {
            if field.attr("type").is_none() {
                let name = NcName::try_from("type").expect("a static name");
                field.set_attr(Namespace::NONE, name, "text-single");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};

    #[test]
    fn every_field_has_a_type() {
        let form = DataForm::new(
            DataFormType::Result_,
            "urn:example",
            vec![
                Field::new("a", FieldType::TextSingle),
                Field::new("b", FieldType::Fixed),
            ],
        );
        let mut payload = Element::builder("query", "jabber:iq:register")
            .append(Element::from(form))
            .build();
        type_every_field(&mut payload);
        let x = payload.get_child("x", ns::DATA_FORMS).unwrap();
        let types: Vec<_> = x
            .children()
            .filter(|c| c.name() == "field")
            .map(|f| (f.attr("var"), f.attr("type")))
            .collect();
        assert!(
            types.contains(&(Some("a"), Some("text-single"))),
            "{types:?}"
        );
        assert!(types.contains(&(Some("b"), Some("fixed"))), "{types:?}");
        assert!(
            types.contains(&(Some("FORM_TYPE"), Some("hidden"))),
            "{types:?}"
        );
    }
}

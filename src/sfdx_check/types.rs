//! The shapes of the generated Metadata API tables in [`super::schema`], and lookups.

use super::schema::{COMPLEX_TYPES, ENUM_TYPES};

/// The value type of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    String,
    Boolean,
    Int,
    /// An `xsd:simpleType` with an enumeration (by name, see [`enum_values`]).
    Enum(&'static str),
    /// A complex type with child elements (by name, see [`complex_type`]).
    Complex(&'static str),
}

/// One element a complex type may contain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element {
    pub name: &'static str,
    pub ty: Ty,
    /// `minOccurs` is not 0.
    pub required: bool,
    /// `maxOccurs="unbounded"`.
    pub repeated: bool,
    /// `nillable="true"`: may be written as `<x xsi:nil="true"/>`, and real retrieved files
    /// omit it, so it is never required.
    pub nillable: bool,
}

/// A Metadata API complex type, inherited elements first (`xsd:sequence` order).
#[derive(Debug)]
pub(crate) struct ComplexType {
    pub name: &'static str,
    pub elements: &'static [Element],
}

impl ComplexType {
    pub(crate) fn element(&self, name: &str) -> Option<(usize, &'static Element)> {
        self.elements
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == name)
    }
}

/// A Metadata API enumeration.
#[derive(Debug)]
pub(crate) struct EnumType {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

pub(crate) fn complex_type(name: &str) -> Option<&'static ComplexType> {
    COMPLEX_TYPES
        .binary_search_by(|t| t.name.cmp(name))
        .ok()
        .map(|i| &COMPLEX_TYPES[i])
}

pub(crate) fn enum_values(name: &str) -> Option<&'static [&'static str]> {
    ENUM_TYPES
        .binary_search_by(|t| t.name.cmp(name))
        .ok()
        .map(|i| ENUM_TYPES[i].values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_every_referenced_type_exists() {
        assert!(COMPLEX_TYPES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(ENUM_TYPES.windows(2).all(|w| w[0].name < w[1].name));
        for t in COMPLEX_TYPES {
            for e in t.elements {
                match e.ty {
                    Ty::Complex(n) => assert!(complex_type(n).is_some(), "{}.{}", t.name, e.name),
                    Ty::Enum(n) => assert!(enum_values(n).is_some(), "{}.{}", t.name, e.name),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn key_enumerations_match_the_wsdl() {
        assert_eq!(
            enum_values("MatchingMethod").unwrap(),
            [
                "Exact",
                "FirstName",
                "LastName",
                "CompanyName",
                "Phone",
                "City",
                "Street",
                "Zip",
                "Title"
            ]
        );
        assert_eq!(enum_values("DupeActionType").unwrap(), ["Allow", "Block"]);
        let field_types = enum_values("FieldType").unwrap();
        assert!(field_types.contains(&"Text") && field_types.contains(&"LongTextArea"));
        assert!(!field_types.contains(&"String"));
        let custom_field = complex_type("CustomField").unwrap();
        assert_eq!(custom_field.elements[0].name, "fullName");
        let (_, ty) = custom_field.element("type").unwrap();
        assert_eq!(ty.ty, Ty::Enum("FieldType"));
        let (_, rules) = complex_type("MatchingRules")
            .unwrap()
            .element("matchingRules")
            .unwrap();
        assert!(rules.repeated);
    }
}

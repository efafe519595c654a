//! Checks a metadata XML document against the Metadata API tables: element names, nesting,
//! repetition, required elements, `xsi:nil`, value syntax and enumeration values, and the
//! WSDL element order Salesforce itself writes.

use roxmltree::{Document, Node};

use super::types::{ComplexType, Element, Ty, complex_type, enum_values};

/// The Metadata API namespace every source file declares.
pub const METADATA_NAMESPACE: &str = "http://soap.sforce.com/2006/04/metadata";
const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// 1-based line of a node.
pub(crate) fn line_of(doc: &Document<'_>, node: Node<'_, '_>) -> u32 {
    doc.text_pos_at(node.range().start).row
}

/// Whether an element is written as `<x xsi:nil="true"/>`.
pub(crate) fn is_nil(node: Node<'_, '_>) -> bool {
    node.attribute((XSI_NAMESPACE, "nil")) == Some("true")
}

/// Child elements of `node` called `name`.
pub(crate) fn children<'a, 'input>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed text of the first child element called `name`; `None` when absent, nil or
/// empty.
pub(crate) fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .filter(|c| !is_nil(*c))
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// `true`/`1` → true; anything else (including absent) → false.
pub(crate) fn child_bool(node: Node<'_, '_>, name: &str) -> bool {
    matches!(child_text(node, name), Some("true" | "1"))
}

/// Checks `root` as an instance of `ty`; every problem is `line N: message`.
pub(crate) fn check_root(doc: &Document<'_>, ty: &'static ComplexType, out: &mut Vec<String>) {
    let root = doc.root_element();
    check_complex(doc, root, ty, ty.name, out);
}

fn check_complex(
    doc: &Document<'_>,
    node: Node<'_, '_>,
    ty: &'static ComplexType,
    path: &str,
    out: &mut Vec<String>,
) {
    let mut counts = vec![0usize; ty.elements.len()];
    let mut last: Option<(usize, &str)> = None;
    let mut order_reported = false;
    for child in node.children() {
        if child.is_text() {
            let text = child.text().unwrap_or("").trim();
            if !text.is_empty() {
                out.push(format!(
                    "line {}: unexpected text '{}' in <{path}>, which holds elements, not a value",
                    line_of(doc, child),
                    shorten(text)
                ));
            }
            continue;
        }
        if !child.is_element() {
            continue;
        }
        let line = line_of(doc, child);
        let name = child.tag_name().name();
        if child.tag_name().namespace() != Some(METADATA_NAMESPACE) {
            out.push(format!(
                "line {line}: element <{name}> in <{path}> is not in the Metadata API namespace \
                 {METADATA_NAMESPACE}"
            ));
            continue;
        }
        let Some((index, element)) = ty.element(name) else {
            out.push(format!(
                "line {line}: unknown element <{name}> in <{path}>{}",
                suggestion(name, ty.elements.iter().map(|e| e.name), "<", ">")
            ));
            continue;
        };
        counts[index] += 1;
        if counts[index] == 2 && !element.repeated {
            out.push(format!(
                "line {line}: <{name}> appears more than once in <{path}>, but a {} has only one",
                ty.name
            ));
        }
        if let Some((previous, previous_name)) = last
            && index < previous
            && !order_reported
        {
            out.push(format!(
                "line {line}: <{name}> is out of order in <{path}>: the Metadata API (and every \
                 file Salesforce writes) puts it before <{previous_name}>"
            ));
            order_reported = true;
        }
        last = Some((index, element.name));
        let child_path = format!("{path}/{name}");
        if is_nil(child) {
            if !element.nillable {
                out.push(format!(
                    "line {line}: <{name}> in <{path}> cannot be xsi:nil; give it a value or \
                     leave it out"
                ));
            }
            continue;
        }
        check_value(doc, child, element, &child_path, out);
    }
    for (element, count) in ty.elements.iter().zip(&counts) {
        if *count == 0 && element.required && !element.nillable && element.name != "fullName" {
            out.push(format!(
                "line {}: required element <{}> is missing from <{path}>",
                line_of(doc, node),
                element.name
            ));
        }
    }
}

fn check_value(
    doc: &Document<'_>,
    node: Node<'_, '_>,
    element: &Element,
    path: &str,
    out: &mut Vec<String>,
) {
    let line = line_of(doc, node);
    let name = element.name;
    if let Ty::Complex(type_name) = element.ty {
        match complex_type(type_name) {
            Some(ty) => check_complex(doc, node, ty, path, out),
            None => out.push(format!(
                "line {line}: internal: no table for type {type_name}"
            )),
        }
        return;
    }
    if let Some(inner) = node.children().find(|c| c.is_element()) {
        out.push(format!(
            "line {line}: <{name}> holds a value, not elements (found <{}>)",
            inner.tag_name().name()
        ));
        return;
    }
    let value = node.text().unwrap_or("").trim();
    let bad = |expected: &str| {
        format!(
            "line {line}: <{name}> is '{}', expected {expected}",
            shorten(value)
        )
    };
    match element.ty {
        Ty::String | Ty::Complex(_) => {}
        Ty::Boolean => {
            if !matches!(value, "true" | "false" | "1" | "0") {
                out.push(bad("true or false"));
            }
        }
        Ty::Int => {
            let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                out.push(bad("a whole number"));
            }
        }
        Ty::Enum(type_name) => {
            let values = enum_values(type_name).unwrap_or(&[]);
            if !values.contains(&value) {
                out.push(format!(
                    "line {line}: <{name}> is '{}', which is not a valid {type_name}{} (valid: {})",
                    shorten(value),
                    suggestion(value, values.iter().copied(), "'", "'"),
                    list(values)
                ));
            }
        }
    }
}

/// `" (did you mean <x>?)"` when a candidate is close to `found`, else empty.
pub(crate) fn suggestion<'a>(
    found: &str,
    candidates: impl Iterator<Item = &'a str>,
    open: &str,
    close: &str,
) -> String {
    let found_lower = found.to_ascii_lowercase();
    let limit = (found.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(&found_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean {open}{c}{close}?)"))
        .unwrap_or_default()
}

/// Comma-separated, at most 40 entries.
pub(crate) fn list(values: &[&str]) -> String {
    if values.len() > 40 {
        format!("{}, …", values[..40].join(", "))
    } else {
        values.join(", ")
    }
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        s.push('…');
    }
    s
}

/// Levenshtein distance.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(type_name: &str, body: &str) -> Vec<String> {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{type_name} xmlns=\"{METADATA_NAMESPACE}\" \
             xmlns:xsi=\"{XSI_NAMESPACE}\">\n{body}\n</{type_name}>\n"
        );
        let doc = Document::parse(&xml).unwrap();
        let mut out = Vec::new();
        check_root(&doc, complex_type(type_name).unwrap(), &mut out);
        out
    }

    #[test]
    fn a_valid_document_has_no_problems() {
        let problems = check(
            "CustomField",
            "<fullName>A__c</fullName><externalId>true</externalId><label>A</label>\
             <length>10</length><type>Text</type><unique>1</unique>",
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn misspelled_elements_name_the_line_and_the_likely_element() {
        let problems = check(
            "CustomField",
            "<fullName>A__c</fullName>\n<externalID>true</externalID>\n<label>A</label>",
        );
        assert_eq!(
            problems,
            ["line 4: unknown element <externalID> in <CustomField> (did you mean <externalId>?)"]
        );
    }

    #[test]
    fn bad_enumeration_values_list_the_valid_ones() {
        let problems = check("CustomField", "<label>A</label><type>Txt</type>");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with(
                "line 3: <type> is 'Txt', which is not a valid FieldType (did you mean 'Text'?) \
                 (valid: AutoNumber, Lookup, MasterDetail"
            ),
            "{problems:?}"
        );
    }

    #[test]
    fn nested_types_are_checked_with_their_path() {
        let problems = check(
            "CustomField",
            "<label>A</label><type>Picklist</type><valueSet><valueSetDefinition>\
             <value><fullName>x</fullName><default>maybe</default><lable>X</lable></value>\
             </valueSetDefinition></valueSet>",
        );
        assert!(
            problems.contains(&"line 3: <default> is 'maybe', expected true or false".to_string()),
            "{problems:?}"
        );
        assert!(problems.iter().any(|p| p.contains(
            "unknown element <lable> in <CustomField/valueSet/valueSetDefinition/value> (did you mean <label>?)"
        )));
        assert!(
            problems.iter().any(|p| p
                .contains("required element <sorted> is missing from <CustomField/valueSet/valueSetDefinition>")),
            "{problems:?}"
        );
    }

    #[test]
    fn repetition_order_nil_and_namespaces() {
        let problems = check(
            "DuplicateRule",
            "<actionOnInsert>Allow</actionOnInsert><actionOnUpdate>Allow</actionOnUpdate>\
             <alertText xsi:nil=\"true\"/><isActive xsi:nil=\"true\"/>\
             <masterLabel>R</masterLabel><masterLabel>R</masterLabel>\
             <sortOrder>one</sortOrder><securityOption>BypassSharingRules</securityOption>\
             <x:foo xmlns:x=\"urn:other\"/>text",
        );
        let joined = problems.join("\n");
        assert!(
            joined.contains("<isActive> in <DuplicateRule> cannot be xsi:nil"),
            "{joined}"
        );
        assert!(
            joined.contains("<masterLabel> appears more than once"),
            "{joined}"
        );
        assert!(
            joined.contains("<sortOrder> is 'one', expected a whole number"),
            "{joined}"
        );
        assert!(
            joined.contains("<securityOption> is out of order in <DuplicateRule>: the Metadata API (and every file Salesforce writes) puts it before <sortOrder>"),
            "{joined}"
        );
        assert!(
            joined
                .contains("element <foo> in <DuplicateRule> is not in the Metadata API namespace"),
            "{joined}"
        );
        assert!(joined.contains("unexpected text 'text'"), "{joined}");
        // isActive is required but was nil: reported once as nil, not again as missing.
        assert!(!joined.contains("required element <isActive>"), "{joined}");
    }

    #[test]
    fn missing_required_elements_are_reported_except_nillable_ones() {
        let problems = check(
            "DuplicateRule",
            "<actionOnInsert>Allow</actionOnInsert><actionOnUpdate>Allow</actionOnUpdate>\
             <isActive>false</isActive><masterLabel>R</masterLabel><securityOption>BypassSharingRules</securityOption>",
        );
        assert_eq!(
            problems,
            ["line 2: required element <sortOrder> is missing from <DuplicateRule>"]
        );
    }

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            suggestion("Fuzzy", ["Exact", "FirstName"].into_iter(), "'", "'"),
            ""
        );
        assert_eq!(
            suggestion("Exakt", ["Exact", "FirstName"].into_iter(), "'", "'"),
            " (did you mean 'Exact'?)"
        );
    }
}

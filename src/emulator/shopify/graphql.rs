//! GraphQL documents: parsing (with `async-graphql-parser`), operation selection, variable
//! coercion and validation against [`super::schema`], compiled into a [`Plan`] of fields the
//! resolvers and the projector walk. Errors carry Shopify's (graphql-ruby's) messages and
//! `extensions.code` values: `PARSE_ERROR`, `undefinedField`, `selectionMismatch`,
//! `missingRequiredArguments`, `argumentNotAccepted`, `INVALID_VARIABLE`, …

use std::collections::HashMap;

use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql_parser::{Pos, Positioned, parse_query};
use async_graphql_value::{Name, Value};
use serde_json::{Map, Value as Json, json};

use super::schema::{self, Ty, check_input, fields_of, fragment_applies};

/// A GraphQL error as Shopify writes it in `errors[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    pub message: String,
    pub locations: Vec<(usize, usize)>,
    pub path: Option<Vec<Json>>,
    pub extensions: Map<String, Json>,
}

impl GqlError {
    pub fn new(message: impl Into<String>, code: &str) -> GqlError {
        let mut extensions = Map::new();
        extensions.insert("code".into(), Json::String(code.into()));
        GqlError {
            message: message.into(),
            locations: Vec::new(),
            path: None,
            extensions,
        }
    }

    pub fn at(mut self, pos: Pos) -> GqlError {
        self.locations.push((pos.line, pos.column));
        self
    }

    pub fn with_path(mut self, path: Vec<Json>) -> GqlError {
        self.path = Some(path);
        self
    }

    pub fn ext(mut self, key: &str, value: Json) -> GqlError {
        self.extensions.insert(key.into(), value);
        self
    }

    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        map.insert("message".into(), Json::String(self.message.clone()));
        if !self.locations.is_empty() {
            map.insert(
                "locations".into(),
                Json::Array(
                    self.locations
                        .iter()
                        .map(|(l, c)| json!({"line": l, "column": c}))
                        .collect(),
                ),
            );
        }
        if let Some(path) = &self.path {
            map.insert("path".into(), Json::Array(path.clone()));
        }
        map.insert("extensions".into(), Json::Object(self.extensions.clone()));
        Json::Object(map)
    }
}

/// One selected field, validated, arguments resolved, fragments flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanField {
    /// The response key (the alias, or the name).
    pub key: String,
    pub name: String,
    pub ty: Ty,
    pub args: Map<String, Json>,
    pub sub: Vec<PlanField>,
    /// The runtime type this field applies to (from a fragment's type condition), if it is
    /// narrower than the parent's type.
    pub cond: Option<String>,
    pub pos: (usize, usize),
}

impl PlanField {
    /// Whether the field applies to an object whose runtime type is `runtime`.
    pub fn applies_to(&self, runtime: &str) -> bool {
        match &self.cond {
            None => true,
            Some(c) => {
                c == runtime || (c == "Node" && schema::possible_types("Node").contains(&runtime))
            }
        }
    }

    pub fn arg_str(&self, name: &str) -> Option<&str> {
        self.args.get(name).and_then(Json::as_str)
    }

    pub fn arg_u64(&self, name: &str) -> Option<u64> {
        self.args.get(name).and_then(Json::as_u64)
    }

    pub fn arg_bool(&self, name: &str) -> Option<bool> {
        self.args.get(name).and_then(Json::as_bool)
    }

    /// The child field named `name` (the first one applying to any type).
    pub fn child(&self, name: &str) -> Option<&PlanField> {
        self.sub.iter().find(|f| f.name == name)
    }
}

/// Whether an operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
}

/// A compiled operation.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kind: OpKind,
    /// `query Name` / `mutation` — the first element of error paths.
    pub label: String,
    pub fields: Vec<PlanField>,
}

/// Parses `text`; a syntax error becomes Shopify's `PARSE_ERROR`.
pub fn parse(text: &str) -> Result<ExecutableDocument, GqlError> {
    parse_query(text).map_err(|e| {
        let pos = e.positions().next().unwrap_or(Pos { line: 1, column: 1 });
        let detail = e
            .to_string()
            .lines()
            .map(str::trim)
            .rfind(|l| l.starts_with('=') || l.starts_with("expected"))
            .map(|l| l.trim_start_matches("= ").to_string())
            .filter(|l| !l.is_empty());
        let message = match (text.trim().is_empty(), detail) {
            (true, _) => format!(
                "syntax error, unexpected end of file at [{}, {}]",
                pos.line, pos.column
            ),
            (false, Some(d)) => format!("syntax error, {d} at [{}, {}]", pos.line, pos.column),
            (false, None) => format!("syntax error at [{}, {}]", pos.line, pos.column),
        };
        GqlError::new(message, "PARSE_ERROR").at(pos)
    })
}

/// Compiles the operation of a request: picks it, coerces its variables, validates the
/// selection against the schema.
pub fn compile(
    text: &str,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Plan, Vec<GqlError>> {
    let document = parse(text).map_err(|e| vec![e])?;
    compile_document(&document, operation_name, variables)
}

pub fn compile_document(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Plan, Vec<GqlError>> {
    let (name, operation) = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => (None, op),
        (DocumentOperations::Multiple(ops), Some(wanted)) => match ops.get(wanted) {
            Some(op) => (Some(wanted.to_string()), op),
            None => {
                return Err(vec![GqlError::new(
                    format!("No operation named \"{wanted}\""),
                    "OPERATION_NOT_FOUND",
                )]);
            }
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            let (n, op) = ops.iter().next().expect("one operation");
            (Some(n.to_string()), op)
        }
        (DocumentOperations::Multiple(_), None) => {
            return Err(vec![GqlError::new(
                "An operation name is required",
                "OPERATION_NAME_REQUIRED",
            )]);
        }
    };
    let name = name.or_else(|| {
        // A single named operation is still named.
        match &document.operations {
            DocumentOperations::Multiple(ops) => ops.keys().next().map(|k| k.to_string()),
            DocumentOperations::Single(_) => None,
        }
    });
    let (kind, root, word) = match operation.node.ty {
        OperationType::Query => (OpKind::Query, "QueryRoot", "query"),
        OperationType::Mutation => (OpKind::Mutation, "Mutation", "mutation"),
        OperationType::Subscription => {
            return Err(vec![
                GqlError::new(
                    "Schema is not configured for subscriptions",
                    "missingSubscriptionConfiguration",
                )
                .at(operation.pos),
            ]);
        }
    };
    let label = match &name {
        Some(n) => format!("{word} {n}"),
        None => word.to_string(),
    };

    // Variables: defaults, then coercion problems as INVALID_VARIABLE errors.
    let mut vars = Map::new();
    let mut errors = Vec::new();
    for definition in &operation.node.variable_definitions {
        let var = &definition.node;
        let type_ref = var.var_type.node.to_string();
        let var_name = var.name.node.to_string();
        if !schema::input_type_exists(&type_ref) {
            errors.push(
                GqlError::new(
                    format!(
                        "{} isn't a defined input type (on ${var_name})",
                        var.var_type.node
                    ),
                    "variableRequiresValidType",
                )
                .at(definition.pos),
            );
            continue;
        }
        let value = match variables.get(&var_name) {
            Some(v) => v.clone(),
            None => match &var.default_value {
                Some(d) => d.node.clone().into_json().unwrap_or(Json::Null),
                None => Json::Null,
            },
        };
        let problems = check_input(&type_ref, &value);
        if problems.is_empty() {
            vars.insert(var_name, value);
            continue;
        }
        let mut message =
            format!("Variable ${var_name} of type {type_ref} was provided invalid value");
        if let [only] = problems.as_slice()
            && !only.path.is_empty()
        {
            let path: Vec<String> = only
                .path
                .iter()
                .map(|p| match p {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            message.push_str(&format!(" for {} ({})", path.join("."), only.explanation));
        }
        errors.push(
            GqlError::new(message, "INVALID_VARIABLE")
                .at(var.var_type.pos)
                .ext("value", value)
                .ext(
                    "problems",
                    Json::Array(
                        problems
                            .iter()
                            .map(|p| json!({"path": p.path, "explanation": p.explanation}))
                            .collect(),
                    ),
                ),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut compiler = Compiler {
        fragments: &document.fragments,
        vars: &vars,
        errors: Vec::new(),
        label: label.clone(),
    };
    let mut fields = Vec::new();
    compiler.selection_set(
        &operation.node.selection_set.node,
        Ty::Obj(root),
        None,
        &mut Vec::new(),
        &mut fields,
        0,
    );
    if !compiler.errors.is_empty() {
        return Err(compiler.errors);
    }
    Ok(Plan {
        kind,
        label,
        fields,
    })
}

/// Converts an argument value, substituting variables.
pub fn value_to_json(value: &Value, vars: &Map<String, Json>) -> Json {
    match value {
        Value::Variable(name) => vars.get(name.as_str()).cloned().unwrap_or(Json::Null),
        Value::Null => Json::Null,
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Binary(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::Enum(e) => Json::String(e.to_string()),
        Value::List(items) => Json::Array(items.iter().map(|v| value_to_json(v, vars)).collect()),
        Value::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), value_to_json(v, vars)))
                .collect(),
        ),
    }
}

struct Compiler<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    vars: &'a Map<String, Json>,
    errors: Vec<GqlError>,
    label: String,
}

/// Deeper than this, a selection is refused (fragment cycles end here too).
const MAX_DEPTH: usize = 32;

impl Compiler<'_> {
    fn path_json(&self, path: &[String]) -> Vec<Json> {
        std::iter::once(Json::String(self.label.clone()))
            .chain(path.iter().map(|p| Json::String(p.clone())))
            .collect()
    }

    /// Whether `@skip` / `@include` drop a selection.
    fn skipped(&self, directives: &[Positioned<async_graphql_parser::types::Directive>]) -> bool {
        directives.iter().any(|d| {
            let arg = d
                .node
                .get_argument("if")
                .map(|v| value_to_json(&v.node, self.vars))
                .and_then(|v| v.as_bool());
            match d.node.name.node.as_str() {
                "skip" => arg == Some(true),
                "include" => arg == Some(false),
                _ => false,
            }
        })
    }

    fn selection_set(
        &mut self,
        set: &SelectionSet,
        parent: Ty,
        cond: Option<&str>,
        path: &mut Vec<String>,
        out: &mut Vec<PlanField>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            self.errors.push(GqlError::new(
                "Query has depth exceeding the maximum",
                "MAX_DEPTH_EXCEEDED",
            ));
            return;
        }
        for item in &set.items {
            if self.skipped(item.node.directives()) {
                continue;
            }
            match &item.node {
                Selection::Field(field) => self.field(field, parent, cond, path, out, depth),
                Selection::InlineFragment(fragment) => {
                    let condition = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.to_string());
                    let Some(next) = self.fragment_condition(
                        condition.as_deref(),
                        parent,
                        cond,
                        fragment.pos,
                        path,
                    ) else {
                        continue;
                    };
                    self.selection_set(
                        &fragment.node.selection_set.node,
                        parent,
                        next.as_deref(),
                        path,
                        out,
                        depth + 1,
                    );
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let Some(definition) = self.fragments.get(name) else {
                        self.errors.push(
                            GqlError::new(
                                format!("Fragment {name} was used, but not defined"),
                                "useAndDefineFragment",
                            )
                            .at(spread.pos)
                            .with_path(self.path_json(path))
                            .ext("fragmentName", Json::String(name.into())),
                        );
                        continue;
                    };
                    let condition = definition.node.type_condition.node.on.node.to_string();
                    let Some(next) =
                        self.fragment_condition(Some(&condition), parent, cond, spread.pos, path)
                    else {
                        continue;
                    };
                    self.selection_set(
                        &definition.node.selection_set.node,
                        parent,
                        next.as_deref(),
                        path,
                        out,
                        depth + 1,
                    );
                }
            }
        }
    }

    /// The narrowed condition a fragment brings, or `None` when the fragment is invalid.
    #[allow(clippy::option_option)]
    fn fragment_condition(
        &mut self,
        condition: Option<&str>,
        parent: Ty,
        cond: Option<&str>,
        pos: Pos,
        path: &[String],
    ) -> Option<Option<String>> {
        let Some(c) = condition else {
            return Some(cond.map(str::to_string));
        };
        if !schema::type_exists(c) {
            self.errors.push(
                GqlError::new(
                    format!("No such type {c}, so it can't be a fragment condition"),
                    "undefinedType",
                )
                .at(pos)
                .with_path(self.path_json(path))
                .ext("typeName", Json::String(c.into())),
            );
            return None;
        }
        if !fragment_applies(parent, c) && cond != Some(c) {
            self.errors.push(
                GqlError::new(
                    format!("Fragment on {c} can't be spread inside {}", parent.name()),
                    "fragmentSpreadImpossible",
                )
                .at(pos)
                .with_path(self.path_json(path)),
            );
            return None;
        }
        let concrete = match parent {
            Ty::Obj(name) | Ty::ObjList(name) => Some(name),
            _ => None,
        };
        if concrete == Some(c) {
            Some(cond.map(str::to_string))
        } else {
            Some(Some(c.to_string()))
        }
    }

    fn field(
        &mut self,
        field: &Positioned<async_graphql_parser::types::Field>,
        parent: Ty,
        cond: Option<&str>,
        path: &mut Vec<String>,
        out: &mut Vec<PlanField>,
        depth: usize,
    ) {
        let node = &field.node;
        let name = node.name.node.to_string();
        let key = node.response_key().node.to_string();
        let pos = (field.pos.line, field.pos.column);
        if name == "__typename" {
            push(
                out,
                PlanField {
                    key,
                    name,
                    ty: Ty::Scalar,
                    args: Map::new(),
                    sub: Vec::new(),
                    cond: cond.map(str::to_string),
                    pos,
                },
            );
            return;
        }
        // The type the field is looked up on: the fragment's, if narrower.
        let on: Ty = match cond {
            Some(c) if c != "Node" => Ty::Obj(schema_name(c)),
            Some(_) => Ty::Abstract("Node"),
            None => parent,
        };
        let fields = fields_of(on).unwrap_or_default();
        path.push(key.clone());
        let Some(def) = fields.iter().find(|f| f.name == name) else {
            let type_name = on.name();
            self.errors.push(
                GqlError::new(
                    format!("Field '{name}' doesn't exist on type '{type_name}'"),
                    "undefinedField",
                )
                .at(field.pos)
                .with_path(self.path_json(path))
                .ext("typeName", Json::String(type_name))
                .ext("fieldName", Json::String(name.clone())),
            );
            path.pop();
            return;
        };
        // Arguments.
        let mut args = Map::new();
        for (arg_name, value) in &node.arguments {
            let arg_name = arg_name.node.as_str();
            let Some(arg) = def.args.iter().find(|a| a.name == arg_name) else {
                self.errors.push(
                    GqlError::new(
                        format!("Field '{name}' doesn't accept argument '{arg_name}'"),
                        "argumentNotAccepted",
                    )
                    .at(value.pos)
                    .with_path(self.path_json(path))
                    .ext("name", Json::String(name.clone()))
                    .ext("typeName", Json::String("Field".into()))
                    .ext("argumentName", Json::String(arg_name.into())),
                );
                continue;
            };
            let json = value_to_json(&value.node, self.vars);
            let uses_variable = matches!(value.node, Value::Variable(_));
            if !uses_variable && schema::input_type_exists(arg.ty) {
                let problems = check_input(arg.ty, &json);
                if let Some(p) = problems.first() {
                    self.errors.push(
                        GqlError::new(
                            format!(
                                "Argument '{arg_name}' on Field '{name}' has an invalid value ({}). Expected type '{}'.",
                                value.node, arg.ty
                            ),
                            "argumentLiteralsIncompatible",
                        )
                        .at(value.pos)
                        .with_path(self.path_json(path))
                        .ext("typeName", Json::String("Field".into()))
                        .ext("argumentName", Json::String(arg_name.into()))
                        .ext("problem", Json::String(p.explanation.clone())),
                    );
                    continue;
                }
            }
            args.insert(arg_name.to_string(), json);
        }
        let missing: Vec<&str> = def
            .args
            .iter()
            .filter(|a| a.ty.ends_with('!') && args.get(a.name).is_none_or(Json::is_null))
            .map(|a| a.name)
            .collect();
        if !missing.is_empty() && self.errors.is_empty() {
            self.errors.push(
                GqlError::new(
                    format!(
                        "Field '{name}' is missing required arguments: {}",
                        missing.join(", ")
                    ),
                    "missingRequiredArguments",
                )
                .at(field.pos)
                .with_path(self.path_json(path))
                .ext("className", Json::String("Field".into()))
                .ext("name", Json::String(name.clone()))
                .ext("arguments", Json::String(missing.join(", "))),
            );
        }
        // Selections.
        let has_selections = !node.selection_set.node.items.is_empty();
        let mut sub = Vec::new();
        match (def.ty.is_leaf(), has_selections) {
            (true, true) => self.errors.push(
                GqlError::new(
                    format!("Selections can't be made on scalars (field '{name}' returns a scalar but has selections)"),
                    "selectionMismatch",
                )
                .at(field.pos)
                .with_path(self.path_json(path))
                .ext("nodeName", Json::String(format!("field '{name}'"))),
            ),
            (false, false) => {
                let type_name = def.ty.name();
                self.errors.push(
                    GqlError::new(
                        format!("Field must have selections (field '{name}' returns {type_name} but has no selections. Did you mean '{name} {{ ... }}'?)"),
                        "selectionMismatch",
                    )
                    .at(field.pos)
                    .with_path(self.path_json(path))
                    .ext("nodeName", Json::String(format!("field '{name}'")))
                    .ext("typeName", Json::String(type_name)),
                );
            }
            (false, true) => {
                self.selection_set(&node.selection_set.node, def.ty, None, path, &mut sub, depth + 1)
            }
            (true, false) => {}
        }
        path.pop();
        push(
            out,
            PlanField {
                key,
                name,
                ty: def.ty,
                args,
                sub,
                cond: cond.map(str::to_string),
                pos,
            },
        );
    }
}

/// The `&'static` name of a known object type (fragment conditions are validated first).
fn schema_name(name: &str) -> &'static str {
    for candidate in schema::possible_types("Node")
        .iter()
        .chain(schema::possible_types("PurchasingEntity"))
    {
        if *candidate == name {
            return candidate;
        }
    }
    "Unknown"
}

/// Adds a field, merging it into an earlier one with the same response key and condition.
fn push(out: &mut Vec<PlanField>, field: PlanField) {
    if let Some(existing) = out
        .iter_mut()
        .find(|f| f.key == field.key && f.cond == field.cond)
    {
        existing.sub.extend(field.sub);
        return;
    }
    out.push(field);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_ok(text: &str) -> Plan {
        compile(text, None, &Map::new()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn fragments_are_flattened_with_their_conditions() {
        let plan = compile_ok(
            "{ order(id: \"gid://shopify/Order/1\") { id purchasingEntity { __typename ... on Customer { id } ...Co } } }
             fragment Co on PurchasingCompany { company { id } }",
        );
        let entity = plan.fields[0].child("purchasingEntity").unwrap();
        assert_eq!(entity.sub.len(), 3);
        assert_eq!(entity.sub[1].cond.as_deref(), Some("Customer"));
        assert_eq!(entity.sub[2].cond.as_deref(), Some("PurchasingCompany"));
        assert_eq!(plan.label, "query");
    }

    #[test]
    fn unknown_fields_and_missing_selections_are_shopify_errors() {
        let errors = compile(
            "query Q { customers(first: 1) { nodes { id nope } } }",
            None,
            &Map::new(),
        )
        .unwrap_err();
        assert_eq!(
            errors[0].message,
            "Field 'nope' doesn't exist on type 'Customer'"
        );
        assert_eq!(errors[0].extensions["code"], "undefinedField");
        assert_eq!(
            errors[0].path.as_ref().unwrap(),
            &vec![
                json!("query Q"),
                json!("customers"),
                json!("nodes"),
                json!("nope")
            ]
        );
        let errors = compile("{ shop }", None, &Map::new()).unwrap_err();
        assert_eq!(errors[0].extensions["code"], "selectionMismatch");
        let errors = compile("{ bulkOperation { id } }", None, &Map::new()).unwrap_err();
        assert_eq!(errors[0].extensions["code"], "missingRequiredArguments");
        let errors = compile("{ shop { id ", None, &Map::new()).unwrap_err();
        assert_eq!(errors[0].extensions["code"], "PARSE_ERROR");
        assert!(errors[0].message.starts_with("syntax error"));
    }

    #[test]
    fn variables_are_coerced_and_reported() {
        let text = "mutation($input: CustomerEmailMarketingConsentUpdateInput!) { customerEmailMarketingConsentUpdate(input: $input) { userErrors { field } } }";
        let errors = compile(text, None, &Map::new()).unwrap_err();
        assert_eq!(
            errors[0].message,
            "Variable $input of type CustomerEmailMarketingConsentUpdateInput! was provided invalid value"
        );
        assert_eq!(errors[0].extensions["code"], "INVALID_VARIABLE");
        let mut vars = Map::new();
        vars.insert(
            "input".into(),
            json!({"customerId": "gid://shopify/Customer/1", "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}}),
        );
        let plan = compile(text, None, &vars).unwrap();
        assert_eq!(plan.kind, OpKind::Mutation);
        assert_eq!(
            plan.fields[0].args["input"]["emailMarketingConsent"]["marketingState"],
            "SUBSCRIBED"
        );
    }
}

//! Projection: a record's JSON (every field the store has) cut down to a selection, keys in
//! the order the query asked for them, as Shopify writes responses and JSONL lines. The same
//! projector serves ordinary queries (connections nested as `edges`/`nodes`/`pageInfo`) and
//! bulk exports (connections left out of the parent; their nodes become lines of their own).
//! It also counts the actual query cost as it goes.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value as Json;

use super::graphql::{GqlError, PlanField};
use super::schema::Ty;

/// A JSON value whose object keys keep their insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Json(Json),
    Obj(Vec<(String, Out)>),
    List(Vec<Out>),
}

impl Out {
    pub fn null() -> Out {
        Out::Json(Json::Null)
    }

    /// The value as plain JSON (key order lost): for tests and internal use.
    pub fn to_json(&self) -> Json {
        match self {
            Out::Json(j) => j.clone(),
            Out::Obj(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Out::List(items) => Json::Array(items.iter().map(Out::to_json).collect()),
        }
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Json(j) => j.serialize(s),
            Out::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Out::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// How connections are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An ordinary query: connections nested in their parent.
    Nested,
    /// A bulk export line: connections are not part of the line.
    Bulk,
}

/// One page of a connection.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// (node, its runtime type, its cursor)
    pub items: Vec<(Json, String, String)>,
    pub has_next: bool,
    pub has_previous: bool,
}

/// Where the projector gets what a record's JSON does not hold.
pub trait Resolver {
    /// The full object behind a gid (a `customer { id }` reference asked for more fields).
    fn expand(&self, gid: &str) -> Option<Json>;
    /// A page of the connection `field` of `parent` (an object of type `parent_type`).
    fn connection(
        &self,
        parent: &Json,
        parent_type: &str,
        field: &PlanField,
    ) -> Result<Page, GqlError>;
}

/// Walks values and selections; accumulates the actual cost and resolver errors.
pub struct Projector<'a> {
    pub mode: Mode,
    pub resolver: &'a dyn Resolver,
    pub cost: u64,
    pub errors: Vec<GqlError>,
}

impl<'a> Projector<'a> {
    pub fn new(mode: Mode, resolver: &'a dyn Resolver) -> Projector<'a> {
        Projector {
            mode,
            resolver,
            cost: 0,
            errors: Vec::new(),
        }
    }

    /// `value` (an object of runtime type `runtime`) cut to `fields`.
    pub fn object(&mut self, value: &Json, runtime: &str, fields: &[PlanField]) -> Out {
        let mut out = Vec::with_capacity(fields.len());
        let mut expanded: Option<Option<Json>> = None;
        for field in fields {
            if !field.applies_to(runtime) {
                continue;
            }
            if field.name == "__typename" {
                out.push((field.key.clone(), Out::Json(Json::String(runtime.into()))));
                continue;
            }
            if let Ty::Conn(_) = field.ty {
                if self.mode == Mode::Bulk {
                    continue;
                }
                let projected = match self.resolver.connection(value, runtime, field) {
                    Ok(page) => self.connection(&page, field),
                    Err(e) => {
                        self.errors.push(e);
                        Out::null()
                    }
                };
                out.push((field.key.clone(), projected));
                continue;
            }
            if matches!(field.name.as_str(), "metafield") {
                let projected = match self.resolver.connection(value, runtime, field) {
                    Ok(page) => match page.items.first() {
                        Some((node, kind, _)) => self.value(node, kind, field),
                        None => Out::null(),
                    },
                    Err(e) => {
                        self.errors.push(e);
                        Out::null()
                    }
                };
                out.push((field.key.clone(), projected));
                continue;
            }
            let found = match value.get(&field.name) {
                Some(v) => Some(v),
                None => {
                    // A reference (`customer { id }`) asked for more: look the record up.
                    let full = expanded.get_or_insert_with(|| {
                        value
                            .get("id")
                            .and_then(Json::as_str)
                            .and_then(|gid| self.resolver.expand(gid))
                    });
                    full.as_ref().and_then(|f| f.get(&field.name))
                }
            };
            // A field the record does not carry (the other customer shape) is left out.
            let Some(v) = found else { continue };
            let static_type = match field.ty {
                Ty::Obj(t) | Ty::ObjList(t) | Ty::Abstract(t) => t,
                _ => "",
            };
            let projected = self.value(v, static_type, field);
            out.push((field.key.clone(), projected));
        }
        Out::Obj(out)
    }

    fn value(&mut self, v: &Json, static_type: &str, field: &PlanField) -> Out {
        match field.ty {
            Ty::Scalar => Out::Json(v.clone()),
            Ty::Obj(_) | Ty::Abstract(_) => self.one(v, static_type, field),
            Ty::ObjList(_) => match v {
                Json::Array(items) => {
                    self.cost += 1;
                    Out::List(
                        items
                            .iter()
                            .map(|item| {
                                let runtime = runtime_type(item, static_type);
                                self.object(item, &runtime, &field.sub)
                            })
                            .collect(),
                    )
                }
                Json::Null => Out::null(),
                other => self.one(other, static_type, field),
            },
            _ => Out::null(),
        }
    }

    fn one(&mut self, v: &Json, static_type: &str, field: &PlanField) -> Out {
        if v.is_null() {
            return Out::null();
        }
        self.cost += 1;
        let runtime = runtime_type(v, static_type);
        self.object(v, &runtime, &field.sub)
    }

    /// A connection written as `edges`, `nodes` and `pageInfo` as selected.
    pub fn connection(&mut self, page: &Page, field: &PlanField) -> Out {
        self.cost += 2 + page.items.len() as u64;
        let mut out = Vec::new();
        for part in &field.sub {
            match part.name.as_str() {
                "__typename" => {
                    out.push((part.key.clone(), Out::Json(Json::String(field.ty.name()))))
                }
                "edges" => {
                    let edges =
                        page.items
                            .iter()
                            .map(|(node, kind, cursor)| {
                                let mut edge = Vec::new();
                                for e in &part.sub {
                                    match e.name.as_str() {
                                        "node" => edge
                                            .push((e.key.clone(), self.object(node, kind, &e.sub))),
                                        "cursor" => edge.push((
                                            e.key.clone(),
                                            Out::Json(Json::String(cursor.clone())),
                                        )),
                                        "__typename" => edge.push((
                                            e.key.clone(),
                                            Out::Json(Json::String(part.ty.name())),
                                        )),
                                        _ => {}
                                    }
                                }
                                Out::Obj(edge)
                            })
                            .collect();
                    out.push((part.key.clone(), Out::List(edges)));
                }
                "nodes" => {
                    let nodes = page
                        .items
                        .iter()
                        .map(|(node, kind, _)| self.object(node, kind, &part.sub))
                        .collect();
                    out.push((part.key.clone(), Out::List(nodes)));
                }
                "pageInfo" => {
                    let mut info = Vec::new();
                    for p in &part.sub {
                        let value = match p.name.as_str() {
                            "hasNextPage" => Json::Bool(page.has_next),
                            "hasPreviousPage" => Json::Bool(page.has_previous),
                            "startCursor" => page
                                .items
                                .first()
                                .map(|i| Json::String(i.2.clone()))
                                .unwrap_or(Json::Null),
                            "endCursor" => page
                                .items
                                .last()
                                .map(|i| Json::String(i.2.clone()))
                                .unwrap_or(Json::Null),
                            "__typename" => Json::String("PageInfo".into()),
                            _ => continue,
                        };
                        info.push((p.key.clone(), Out::Json(value)));
                    }
                    out.push((part.key.clone(), Out::Obj(info)));
                }
                _ => {}
            }
        }
        Out::Obj(out)
    }
}

/// The runtime type of an object value: its `__typename` if it carries one.
pub fn runtime_type(v: &Json, static_type: &str) -> String {
    v.get("__typename")
        .and_then(Json::as_str)
        .unwrap_or(static_type)
        .to_string()
}

/// The requested cost of a selection, Shopify's way: scalars and enums 0, objects 1,
/// connections 2 plus `first`/`last` times the cost of one node, mutations 10.
pub fn requested_cost(fields: &[PlanField]) -> u64 {
    fields.iter().map(field_cost).sum()
}

fn field_cost(field: &PlanField) -> u64 {
    match field.ty {
        Ty::Scalar | Ty::PageInfo => 0,
        Ty::Obj(_) | Ty::ObjList(_) | Ty::Abstract(_) => 1 + requested_cost(&field.sub),
        Ty::Conn(_) => {
            let n = field
                .arg_u64("first")
                .or_else(|| field.arg_u64("last"))
                .unwrap_or(0);
            let per_node = field
                .sub
                .iter()
                .map(|part| match part.name.as_str() {
                    "edges" => part
                        .sub
                        .iter()
                        .filter(|e| e.name == "node")
                        .map(|e| 1 + requested_cost(&e.sub))
                        .max()
                        .unwrap_or(0),
                    "nodes" => 1 + requested_cost(&part.sub),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            2 + n.saturating_mul(per_node)
        }
        Ty::Edge(_) => requested_cost(&field.sub),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::shopify::graphql::compile;
    use serde_json::{Map, json};

    struct NoLookups;

    impl Resolver for NoLookups {
        fn expand(&self, gid: &str) -> Option<Json> {
            (gid == "gid://shopify/Customer/1").then(|| json!({"id": gid, "firstName": "Ana"}))
        }
        fn connection(&self, _: &Json, _: &str, _: &PlanField) -> Result<Page, GqlError> {
            Ok(Page {
                items: vec![(
                    json!({"id": "gid://shopify/LineItem/9", "sku": "A"}),
                    "LineItem".into(),
                    "c1".into(),
                )],
                has_next: true,
                has_previous: false,
            })
        }
    }

    fn order_plan(selection: &str) -> Vec<PlanField> {
        let plan = compile(
            &format!("{{ order(id: \"gid://shopify/Order/1\") {{ {selection} }} }}"),
            None,
            &Map::new(),
        )
        .unwrap();
        plan.fields[0].sub.clone()
    }

    #[test]
    fn keys_follow_the_query_and_unions_pick_their_fragment() {
        let fields = order_plan(
            "name id customer { firstName id } purchasingEntity { ... on Customer { id } ... on PurchasingCompany { company { id } } }",
        );
        let order = json!({"__typename": "Order", "id": "gid://shopify/Order/1", "name": "#1001",
            "customer": {"id": "gid://shopify/Customer/1"},
            "purchasingEntity": {"__typename": "Customer", "id": "gid://shopify/Customer/1"}, "note": "x"});
        let mut p = Projector::new(Mode::Bulk, &NoLookups);
        let out = p.object(&order, "Order", &fields);
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r##"{"name":"#1001","id":"gid://shopify/Order/1","customer":{"firstName":"Ana","id":"gid://shopify/Customer/1"},"purchasingEntity":{"id":"gid://shopify/Customer/1"}}"##
        );
        assert_eq!(p.cost, 2);
    }

    #[test]
    fn connections_nest_in_queries_and_vanish_from_bulk_lines() {
        let fields = order_plan(
            "id lineItems(first: 5) { edges { cursor node { sku } } pageInfo { hasNextPage endCursor } }",
        );
        assert_eq!(requested_cost(&fields), 2 + 5);
        let order = json!({"id": "gid://shopify/Order/1"});
        let mut nested = Projector::new(Mode::Nested, &NoLookups);
        let out = nested.object(&order, "Order", &fields).to_json();
        assert_eq!(out["lineItems"]["edges"][0]["node"]["sku"], "A");
        assert_eq!(out["lineItems"]["pageInfo"]["endCursor"], "c1");
        assert_eq!(nested.cost, 3);
        let mut bulk = Projector::new(Mode::Bulk, &NoLookups);
        assert_eq!(
            bulk.object(&order, "Order", &fields).to_json(),
            json!({"id": "gid://shopify/Order/1"})
        );
    }
}

//! Bulk operations: `bulkOperationRunQuery` validates the inner query and starts a job that goes
//! `CREATED` → `RUNNING` → `COMPLETED` (or `FAILED`, or `CANCELING` → `CANCELED`). The job
//! writes JSONL exactly as Shopify does — one object per line, connection nodes on lines of
//! their own with `__parentId`, children not grouped under their parent unless
//! `groupObjects: true` — from the generator's records (the generator's own shuffle, so an
//! unfiltered export is `shopforce gen`'s file), the overlay applied and the `query:` filter
//! honoured. The file is served at `/bulk-results/{opaque}.jsonl`, no token needed (like
//! Shopify's signed storage URL).

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json, json};

use super::execute::StoreResolver;
use super::faults::BulkFailure;
use super::graphql::{OpKind, PlanField, compile};
use super::project::{Mode, Out, Projector};
use super::schema::Ty;
use super::search::{Search, Searchable};
use super::state::EmulatorState;
use super::store::{Overlay, ShopView};
use super::webhooks;
use crate::shopify::generate::records::{CompanyNode, CustomerNode, OrderNode};
use crate::shopify::generate::{CompanyRecord, ExportFile, Line};

/// `BulkOperationStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Completed,
    Failed,
    Canceling,
    Canceled,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Canceling => "CANCELING",
            Status::Canceled => "CANCELED",
            Status::Expired => "EXPIRED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Canceled | Status::Expired
        )
    }
}

/// One bulk operation.
#[derive(Debug, Clone)]
pub struct BulkOperation {
    pub id: u64,
    pub status: Status,
    pub error_code: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub object_count: u64,
    pub root_object_count: u64,
    pub file_size: Option<u64>,
    pub url: Option<String>,
    pub partial_data_url: Option<String>,
    pub query: String,
    pub cancel: Arc<AtomicBool>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl BulkOperation {
    pub fn gid(&self) -> String {
        format!("gid://shopify/BulkOperation/{}", self.id)
    }

    /// Every field (`UnsignedInt64` counts as strings, as Shopify serialises them).
    pub fn to_json(&self) -> Json {
        json!({
            "__typename": "BulkOperation",
            "id": self.gid(),
            "status": self.status.as_str(),
            "type": "QUERY",
            "errorCode": self.error_code,
            "createdAt": time(self.created_at),
            "completedAt": self.completed_at.map(time),
            "objectCount": self.object_count.to_string(),
            "rootObjectCount": self.root_object_count.to_string(),
            "fileSize": self.file_size.map(|s| s.to_string()),
            "url": self.url,
            "partialDataUrl": self.partial_data_url,
            "query": self.query,
        })
    }
}

/// The resource a bulk query exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Customers,
    Orders,
    Companies,
}

impl Root {
    fn file(self) -> ExportFile {
        match self {
            Root::Customers => ExportFile::Customers,
            Root::Orders => ExportFile::Orders,
            Root::Companies => ExportFile::Companies,
        }
    }
}

/// A validated bulk query.
#[derive(Debug, Clone)]
pub struct BulkPlan {
    pub root: Root,
    pub search: Search,
    /// The selection on each root node.
    pub node: Vec<PlanField>,
    /// Selected child connections: field name → selection on each child node.
    pub children: Vec<(String, Vec<PlanField>)>,
    pub group_objects: bool,
}

impl BulkPlan {
    fn child(&self, connection: &str) -> Option<&[PlanField]> {
        self.children
            .iter()
            .find(|(name, _)| name == connection)
            .map(|(_, sel)| sel.as_slice())
    }
}

/// The selection on the nodes of a connection field (`edges { node { … } }` or
/// `nodes { … }`, merged).
pub fn node_selection(connection: &PlanField) -> Vec<PlanField> {
    let mut out = Vec::new();
    for part in &connection.sub {
        match part.name.as_str() {
            "edges" => {
                for e in &part.sub {
                    if e.name == "node" {
                        out.extend(e.sub.iter().cloned());
                    }
                }
            }
            "nodes" => out.extend(part.sub.iter().cloned()),
            _ => {}
        }
    }
    out
}

/// Connection fields in a selection, with their depth (1 = directly in it).
fn connections(fields: &[PlanField], depth: usize, out: &mut Vec<(String, usize)>) {
    for f in fields {
        match f.ty {
            Ty::Conn(_) => {
                out.push((f.name.clone(), depth));
                connections(&node_selection(f), depth + 1, out);
            }
            _ => connections(&f.sub, depth, out),
        }
    }
}

/// Checks a bulk query the way `bulkOperationRunQuery` does; the error is the userError
/// message (code `INVALID`, field `["query"]`).
pub fn plan(query: &str, group_objects: bool) -> Result<BulkPlan, String> {
    let compiled = compile(query, None, &Map::new()).map_err(|errors| {
        let first = errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        format!("Invalid bulk query: {first}")
    })?;
    if compiled.kind != OpKind::Query {
        return Err("Invalid bulk query: bulk queries must be queries, not mutations.".into());
    }
    let mut found = Vec::new();
    connections(&compiled.fields, 1, &mut found);
    if found.is_empty() {
        return Err("Bulk queries must contain at least one connection.".into());
    }
    if found.len() > 5 {
        return Err("Bulk queries cannot contain more than 5 connections.".into());
    }
    if found.iter().any(|(_, depth)| *depth > 2) {
        return Err(
            "Bulk queries cannot contain connections with a nesting depth greater than 2.".into(),
        );
    }
    let [top] = compiled.fields.as_slice() else {
        return Err("Bulk queries must contain exactly one top-level field.".into());
    };
    if matches!(top.name.as_str(), "node" | "nodes") {
        return Err(format!(
            "Invalid bulk query: the top-level '{}' field is not supported in bulk queries.",
            top.name
        ));
    }
    let root = match (top.name.as_str(), top.ty) {
        ("customers", Ty::Conn(_)) => Root::Customers,
        ("orders", Ty::Conn(_)) => Root::Orders,
        ("companies", Ty::Conn(_)) => Root::Companies,
        (other, _) => {
            return Err(format!(
                "Invalid bulk query: the emulator exports customers, orders and companies; '{other}' is not supported."
            ));
        }
    };
    let node = node_selection(top);
    let children = node
        .iter()
        .filter(|f| matches!(f.ty, Ty::Conn(_)))
        .map(|f| (f.name.clone(), node_selection(f)))
        .collect();
    Ok(BulkPlan {
        root,
        search: Search::parse(top.arg_str("query").unwrap_or("")),
        node,
        children,
        group_objects,
    })
}

// ---------------------------------------------------------------------------------------------
// Search over records

struct CustomerSearch<'a>(&'a CustomerNode);

impl Searchable for CustomerSearch<'_> {
    fn date(&self, field: &str) -> Option<i64> {
        match field {
            "updated_at" => Some(self.0.updated_at.0),
            "created_at" | "customer_date" => Some(self.0.created_at.0),
            _ => None,
        }
    }
    fn text(&self, field: &str) -> Option<Option<String>> {
        match field {
            "email" => Some(self.0.email_address().map(str::to_string)),
            "phone" => Some(self.0.phone_number().map(str::to_string)),
            "first_name" => Some(self.0.first_name.clone()),
            "last_name" => Some(self.0.last_name.clone()),
            "state" => Some(Some(self.0.state.to_string())),
            _ => None,
        }
    }
    fn id(&self) -> u64 {
        self.0.id.id
    }
}

struct OrderSearch<'a>(&'a OrderNode);

impl Searchable for OrderSearch<'_> {
    fn date(&self, field: &str) -> Option<i64> {
        match field {
            "updated_at" => Some(self.0.updated_at.0),
            "created_at" => Some(self.0.created_at.0),
            "processed_at" => Some(self.0.processed_at.0),
            _ => None,
        }
    }
    fn text(&self, field: &str) -> Option<Option<String>> {
        match field {
            "email" => Some(self.0.email.clone()),
            "name" => Some(Some(self.0.name.clone())),
            "customer_id" => Some(self.0.customer.as_ref().map(|c| c.id.id.to_string())),
            "financial_status" => {
                Some(self.0.display_financial_status.map(str::to_ascii_lowercase))
            }
            _ => None,
        }
    }
    fn id(&self) -> u64 {
        self.0.id.id
    }
}

struct CompanySearch<'a>(&'a CompanyNode);

impl Searchable for CompanySearch<'_> {
    fn date(&self, field: &str) -> Option<i64> {
        match field {
            "updated_at" => Some(self.0.updated_at.0),
            "created_at" => Some(self.0.created_at.0),
            _ => None,
        }
    }
    fn text(&self, field: &str) -> Option<Option<String>> {
        match field {
            "name" => Some(Some(self.0.name.clone())),
            "external_id" => Some(self.0.external_id.clone()),
            _ => None,
        }
    }
    fn id(&self) -> u64 {
        self.0.id.id
    }
}

pub fn customer_matches(search: &Search, node: &CustomerNode) -> bool {
    search.matches(&CustomerSearch(node))
}

pub fn order_matches(search: &Search, node: &OrderNode) -> bool {
    search.matches(&OrderSearch(node))
}

pub fn company_matches(search: &Search, node: &CompanyNode) -> bool {
    search.matches(&CompanySearch(node))
}

// ---------------------------------------------------------------------------------------------
// Writing the JSONL

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub objects: u64,
    pub roots: u64,
    pub bytes: u64,
}

/// A line to write: a generator line, or a metafield child.
enum Pending {
    Line(Line),
    Metafield { value: Json, parent: String },
}

/// Writes the export of `plan` over `view`; `None` when canceled part-way.
pub fn export(
    view: &ShopView<'_>,
    app_namespace: &str,
    plan: &BulkPlan,
    out: &mut impl Write,
    cancel: &AtomicBool,
) -> std::io::Result<Option<Counts>> {
    let resolver = StoreResolver {
        view,
        app_namespace,
    };
    let mut projector = Projector::new(Mode::Bulk, &resolver);
    let mut counts = Counts::default();
    let metafields: RefCell<Vec<Pending>> = RefCell::new(Vec::new());
    let wants_metafields = plan.child("metafields").is_some();
    let keep_child = |line: &Line| -> bool {
        let connection = match line {
            Line::CustomerAddress(_) => "addressesV2",
            Line::LineItem(_) => "lineItems",
            Line::Location(_) => "locations",
            Line::Contact(_) => "contacts",
            _ => return true,
        };
        plan.child(connection).is_some()
    };
    let queue_metafields = |owner: String| {
        if wants_metafields {
            for m in view.metafields(&owner) {
                metafields.borrow_mut().push(Pending::Metafield {
                    value: m.to_json(),
                    parent: owner.clone(),
                });
            }
        }
    };
    let mut seen = 0u64;
    let canceled = || cancel.load(Ordering::Relaxed);
    let records: Box<dyn Iterator<Item = Line> + '_> = match plan.root {
        Root::Customers => Box::new(
            (0..view.customer_count())
                .take_while(|_| !canceled())
                .map(|n| view.customer(n))
                .filter(|r| customer_matches(&plan.search, &r.customer))
                .flat_map(|r| {
                    queue_metafields(r.customer.id.to_string());
                    r.into_lines()
                }),
        ),
        Root::Orders => Box::new(
            (0..view.order_count())
                .take_while(|_| !canceled())
                .filter_map(|o| view.order(o))
                .filter(|r| order_matches(&plan.search, &r.order))
                .flat_map(|r| {
                    queue_metafields(r.order.id.to_string());
                    r.into_lines()
                }),
        ),
        Root::Companies => Box::new(
            (0..view.company_count())
                .take_while(|_| !canceled())
                .map(|c| view.company(c))
                .filter(|r| company_matches(&plan.search, &r.company))
                .flat_map(CompanyRecord::into_lines),
        ),
    };
    let records = records.filter(keep_child);
    let lines: Box<dyn Iterator<Item = Line> + '_> = if plan.group_objects {
        Box::new(records)
    } else {
        Box::new(view.data.generator.shuffle(plan.root.file(), records))
    };
    let write = |pending: Pending, counts: &mut Counts, projector: &mut Projector<'_>| {
        let (projected, parent) = match pending {
            Pending::Line(line) => {
                let parent = line.parent_id().map(|p| p.to_string());
                let (kind, selection): (&str, &[PlanField]) = match &line {
                    Line::Customer(_) => ("Customer", &plan.node),
                    Line::Order(_) => ("Order", &plan.node),
                    Line::Company(_) => ("Company", &plan.node),
                    Line::CustomerAddress(_) => {
                        ("MailingAddress", plan.child("addressesV2").unwrap_or(&[]))
                    }
                    Line::LineItem(_) => ("LineItem", plan.child("lineItems").unwrap_or(&[])),
                    Line::Location(_) => {
                        ("CompanyLocation", plan.child("locations").unwrap_or(&[]))
                    }
                    Line::Contact(_) => ("CompanyContact", plan.child("contacts").unwrap_or(&[])),
                };
                if parent.is_none() {
                    counts.roots += 1;
                }
                (projector.object(&line.to_value(), kind, selection), parent)
            }
            Pending::Metafield { value, parent } => (
                projector.object(&value, "Metafield", plan.child("metafields").unwrap_or(&[])),
                Some(parent),
            ),
        };
        let projected = match (projected, parent) {
            (Out::Obj(mut fields), Some(parent)) => {
                fields.push(("__parentId".into(), Out::Json(Json::String(parent))));
                Out::Obj(fields)
            }
            (other, _) => other,
        };
        counts.objects += 1;
        serde_json::to_vec(&projected).map(|mut bytes| {
            bytes.push(b'\n');
            counts.bytes += bytes.len() as u64;
            bytes
        })
    };
    for line in lines {
        let bytes = write(Pending::Line(line), &mut counts, &mut projector)?;
        out.write_all(&bytes)?;
        let pending: Vec<Pending> = metafields.borrow_mut().drain(..).collect();
        for m in pending {
            let bytes = write(m, &mut counts, &mut projector)?;
            out.write_all(&bytes)?;
        }
        seen += 1;
        if seen.is_multiple_of(512) && canceled() {
            return Ok(None);
        }
    }
    if canceled() {
        return Ok(None);
    }
    out.flush()?;
    Ok(Some(counts))
}

// ---------------------------------------------------------------------------------------------
// Running operations

fn update(state: &EmulatorState, shop: usize, id: u64, f: impl FnOnce(&mut BulkOperation)) {
    if let Ok(mut ops) = state.shops[shop].bulk.lock()
        && let Some(op) = ops.iter_mut().find(|o| o.id == id)
    {
        f(op);
    }
}

fn snapshot(state: &EmulatorState, shop: usize, id: u64) -> Option<BulkOperation> {
    state.shops[shop]
        .bulk
        .lock()
        .ok()
        .and_then(|ops| ops.iter().find(|o| o.id == id).cloned())
}

/// A fresh opaque file name (the part of the URL that stands in for a signature).
fn opaque_name() -> String {
    webhooks::uuid().replace('-', "")
}

/// The job behind one bulk operation, from `CREATED` to its terminal status.
pub async fn run(
    state: Arc<EmulatorState>,
    shop: usize,
    id: u64,
    plan: BulkPlan,
    failure: Option<BulkFailure>,
) {
    let started = Instant::now();
    let cancel = match snapshot(&state, shop, id) {
        Some(op) => op.cancel,
        None => return,
    };
    // A moment in CREATED, as Shopify queues the job.
    pause(
        (state.config.bulk_min_duration / 5).min(Duration::from_millis(20)),
        started,
        &cancel,
    )
    .await;
    if !cancel.load(Ordering::Relaxed) {
        update(&state, shop, id, |op| op.status = Status::Running);
    }
    let name = opaque_name();
    let path = state.results_dir.join(format!("{name}.jsonl"));
    let overlay: Overlay = match state.shops[shop].overlay.lock() {
        Ok(o) => o.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let writer_state = Arc::clone(&state);
    let writer_path = path.clone();
    let writer_cancel = Arc::clone(&cancel);
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Counts>> {
        let shop_ref = &writer_state.shops[shop];
        let view = ShopView::new(&shop_ref.data, &overlay);
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&writer_path)?);
        export(
            &view,
            &writer_state.app_namespace(),
            &plan,
            &mut out,
            &writer_cancel,
        )
    })
    .await;
    let counts = match written {
        Ok(Ok(c)) => c,
        Ok(Err(error)) => {
            tracing::warn!(%error, "Bulk export could not be written.");
            let _ = std::fs::remove_file(&path);
            finish(&state, shop, id, |op| {
                op.status = Status::Failed;
                op.error_code = Some("INTERNAL_SERVER_ERROR");
            });
            return;
        }
        Err(_) => return,
    };
    // Take as long as a job of this size is configured to.
    if let Some(c) = counts {
        let wanted = state.config.bulk_min_duration.max(
            state
                .config
                .bulk_per_object
                .saturating_mul(c.objects.min(u64::from(u32::MAX)) as u32),
        );
        pause(wanted, started, &cancel).await;
    }
    let Some(counts) = counts.filter(|_| !cancel.load(Ordering::Relaxed)) else {
        let _ = std::fs::remove_file(&path);
        finish(&state, shop, id, |op| op.status = Status::Canceled);
        return;
    };
    if let Some(failure) = failure {
        let partial = if failure.partial_data && counts.objects > 1 {
            write_partial(&path, counts.objects / 2, &state.results_dir).ok()
        } else {
            None
        };
        let _ = std::fs::remove_file(&path);
        let partial_url = partial.map(|(partial_name, partial_path, partial_counts)| {
            register(&state, &partial_name, partial_path);
            (url_of(&state, &partial_name), partial_counts)
        });
        finish(&state, shop, id, |op| {
            op.status = Status::Failed;
            op.error_code = Some(failure.error_code);
            if let Some((url, c)) = partial_url {
                op.partial_data_url = Some(url);
                op.object_count = c.objects;
                op.root_object_count = c.roots;
            }
        });
        return;
    }
    if counts.objects == 0 {
        let _ = std::fs::remove_file(&path);
    } else {
        register(&state, &name, path);
    }
    let url = (counts.objects > 0).then(|| url_of(&state, &name));
    finish(&state, shop, id, |op| {
        op.status = Status::Completed;
        op.object_count = counts.objects;
        op.root_object_count = counts.roots;
        op.file_size = (counts.objects > 0).then_some(counts.bytes);
        op.url = url;
    });
}

/// Waits until `until` has passed since `started`, or the operation is canceled.
async fn pause(until: Duration, started: Instant, cancel: &AtomicBool) {
    while started.elapsed() < until && !cancel.load(Ordering::Relaxed) {
        let left = until.saturating_sub(started.elapsed());
        tokio::time::sleep(left.min(Duration::from_millis(5))).await;
    }
}

fn url_of(state: &EmulatorState, name: &str) -> String {
    format!("{}/bulk-results/{name}.jsonl", state.base_url)
}

fn register(state: &EmulatorState, name: &str, path: PathBuf) {
    if let Ok(mut results) = state.results.lock() {
        results.insert(name.to_string(), path);
    }
}

/// Copies the first `keep` lines of `path` into a new result file.
fn write_partial(path: &Path, keep: u64, dir: &Path) -> std::io::Result<(String, PathBuf, Counts)> {
    let name = opaque_name();
    let target = dir.join(format!("{name}.jsonl"));
    let mut out = BufWriter::new(File::create(&target)?);
    let mut counts = Counts::default();
    for line in BufReader::new(File::open(path)?)
        .lines()
        .take(keep as usize)
    {
        let line = line?;
        if !line.contains("\"__parentId\":") {
            counts.roots += 1;
        }
        counts.objects += 1;
        counts.bytes += line.len() as u64 + 1;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok((name, target, counts))
}

/// Sets the terminal status (and `completedAt`), then sends `bulk_operations/finish`.
fn finish(state: &Arc<EmulatorState>, shop: usize, id: u64, f: impl FnOnce(&mut BulkOperation)) {
    let now = state.clock.now();
    update(state, shop, id, |op| {
        f(op);
        op.completed_at = Some(now);
    });
    if let Some(op) = snapshot(state, shop, id) {
        tracing::debug!(
            id = op.id,
            status = op.status.as_str(),
            "Bulk operation finished."
        );
        let domain = state.shops[shop].domain().to_string();
        webhooks::emit(
            state,
            &domain,
            vec![(
                "bulk_operations/finish",
                webhooks::bulk_finish_payload(&op.to_json()),
            )],
        );
    }
}

/// `bulkOperationRunQuery`: the payload (`bulkOperation`, `userErrors`).
pub fn run_query(state: &Arc<EmulatorState>, shop: usize, query: &str, group: bool) -> Json {
    let user_error = |field: Json, message: String, code: &str| json!({"bulkOperation": null, "userErrors": [{"field": field, "message": message, "code": code}]});
    let plan = match plan(query, group) {
        Ok(p) => p,
        Err(message) => return user_error(json!(["query"]), message, "INVALID"),
    };
    let (rejected, failure) = match state.faults.lock() {
        Ok(mut f) => (f.take_bulk_rejection(), f.take_bulk_failure()),
        Err(_) => (false, None),
    };
    let in_progress = |id: u64| {
        user_error(
            Json::Null,
            format!(
                "A bulk query operation for this app and shop is already in progress: gid://shopify/BulkOperation/{id}."
            ),
            "OPERATION_IN_PROGRESS",
        )
    };
    let Ok(mut ops) = state.shops[shop].bulk.lock() else {
        return user_error(Json::Null, "Internal error".into(), "INVALID");
    };
    let running: Vec<u64> = ops
        .iter()
        .filter(|o| !o.status.is_terminal())
        .map(|o| o.id)
        .collect();
    if rejected {
        state.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
        let id = running
            .last()
            .copied()
            .or_else(|| ops.last().map(|o| o.id))
            .unwrap_or_else(|| state.next_bulk_id());
        if let Some(failure) = failure
            && let Ok(mut f) = state.faults.lock()
        {
            // Not consumed: the failure is for the next operation that runs.
            f.fail_next_bulk = Some(failure.error_code.to_string());
        }
        return in_progress(id);
    }
    if running.len() >= state.config.bulk_query_limit() {
        if let Some(failure) = failure
            && let Ok(mut f) = state.faults.lock()
        {
            f.fail_next_bulk = Some(failure.error_code.to_string());
        }
        return in_progress(*running.last().unwrap_or(&0));
    }
    if failure.is_some() {
        state.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
    }
    let op = BulkOperation {
        id: state.next_bulk_id(),
        status: Status::Created,
        error_code: None,
        created_at: state.clock.now(),
        completed_at: None,
        object_count: 0,
        root_object_count: 0,
        file_size: None,
        url: None,
        partial_data_url: None,
        query: query.to_string(),
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let payload = json!({"bulkOperation": op.to_json(), "userErrors": []});
    let id = op.id;
    ops.push(op);
    drop(ops);
    state.stats.bulk_operations.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(run(Arc::clone(state), shop, id, plan, failure));
    payload
}

/// `bulkOperationCancel`: the payload (`bulkOperation`, `userErrors`).
pub fn cancel(state: &EmulatorState, shop: usize, gid: &str) -> Json {
    let not_found = json!({"bulkOperation": null, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]});
    let id = match super::store::parse_gid(gid) {
        Some(("BulkOperation", id)) => id,
        _ => return not_found,
    };
    let Ok(mut ops) = state.shops[shop].bulk.lock() else {
        return not_found;
    };
    let Some(op) = ops.iter_mut().find(|o| o.id == id) else {
        return not_found;
    };
    if op.status.is_terminal() {
        return json!({"bulkOperation": op.to_json(), "userErrors": [{"field": null,
            "message": format!("A bulk operation cannot be canceled when it is {}", op.status.as_str().to_ascii_lowercase())}]});
    }
    op.status = Status::Canceling;
    op.cancel.store(true, Ordering::Relaxed);
    json!({"bulkOperation": op.to_json(), "userErrors": []})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_queries_plan_with_their_children() {
        let p = plan(
            "{ orders(query: \"updated_at:>'2026-10-01T00:00:00Z'\") { edges { node { id name lineItems { edges { node { id sku } } } } } } }",
            false,
        )
        .unwrap();
        assert_eq!(p.root, Root::Orders);
        assert_eq!(p.search.terms.len(), 1);
        assert_eq!(p.children.len(), 1);
        assert_eq!(p.children[0].0, "lineItems");
        assert_eq!(p.node.len(), 3);
    }

    #[test]
    fn bulk_query_rules_are_enforced() {
        assert_eq!(
            plan("{ shop { name } }", false).unwrap_err(),
            "Bulk queries must contain at least one connection."
        );
        assert!(
            plan("{ customers { edges { node { id nope } } } }", false)
                .unwrap_err()
                .starts_with("Invalid bulk query: Field 'nope' doesn't exist on type 'Customer'")
        );
        assert!(
            plan("{ companies { edges { node { contacts { edges { node { customer { addressesV2 { edges { node { id } } } } } } } } } } }", false)
                .unwrap_err()
                .contains("nesting depth")
        );
        assert!(
            plan("", false)
                .unwrap_err()
                .starts_with("Invalid bulk query: syntax error")
        );
    }

    #[test]
    fn operations_serialise_counts_as_strings() {
        let op = BulkOperation {
            id: 7,
            status: Status::Completed,
            error_code: None,
            created_at: "2026-10-01T00:00:00Z".parse().unwrap(),
            completed_at: None,
            object_count: 12,
            root_object_count: 3,
            file_size: Some(99),
            url: None,
            partial_data_url: None,
            query: "{}".into(),
            cancel: Arc::default(),
        };
        let j = op.to_json();
        assert_eq!(j["objectCount"], "12");
        assert_eq!(j["fileSize"], "99");
        assert_eq!(j["id"], "gid://shopify/BulkOperation/7");
        assert_eq!(j["createdAt"], "2026-10-01T00:00:00Z");
    }
}

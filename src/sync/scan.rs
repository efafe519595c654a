//! Reading a Shopify bulk export (`companies.jsonl`, `customers.jsonl`, `orders.jsonl`) into
//! the spool, line by line. Bad lines and records that cannot be mapped are dead-lettered
//! with their reason; the read goes on.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::mapping::build::{self, AccountModel, MappingContext, MappingError};
use crate::mapping::csv_file::row_hash;
use crate::mapping::row::{Cell, Row};
use crate::mapping::target::{Target, column};
use crate::metrics;
use crate::shopify::bulk_jsonl::{
    CompanyLine, CustomerLine, JsonlLines, LineError, OrderLine, parse_company_line,
    parse_customer_line, parse_order_line,
};
use crate::shopify::model::{Customer, Order, legacy_id};
use crate::store::IdentityLink;
use crate::store::{CachedOrder, NewDeadLetter, RunId, StateStore, Store};

use super::SyncError;
use super::prepare::{FailedKeys, RowEdits, key_space};
use super::progress::SyncProgress;
use super::resolve::{Decision, GuestOrder, Resolver};

/// Source lines counted between progress updates.
const PROGRESS_LINES: u64 = 4096;
use super::spool::{Spool, SpoolFile};

const FLUSH_EVERY: usize = 5000;

/// Orders per order-cache transaction. Each commit rewrites every index page it touched,
/// and customer ids arrive in no order, so fewer, larger commits write far less to the WAL
/// (the engine benchmark's page writes fell by 40% from 5,000 to 25,000). But a batch
/// waits in memory (about 5 MB per 10,000 orders, up to three at once): 25,000 put the
/// run's peak RSS over its 200 MB target until the result downloads stopped holding a
/// job's successes whole (peak 142–146 MB at 10,000, 154–158 MB at 25,000).
const ORDER_BATCH: usize = 10_000;
/// Batches of orders read and not yet written to the order cache, at most (besides the one
/// being written). A write can wait for the state store's write lock while the result
/// writer stores a job's mappings; with one batch queued the orders reader waited with it,
/// 0.4-1.5 s in all at the benchmark's 300,000 orders, and the read took 9.1-9.2 s. With two
/// it took 5.5-6.8 s; four bought no more and added up to 20 MB of peak RSS.
const ORDER_BATCHES_QUEUED: usize = 2;

/// B2C customers decided per identity-resolution batch (one mapping lookup each).
const RESOLVE_BATCH: usize = 2000;

/// Counts of what the read saw.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ScanTally {
    pub lines: u64,
    pub bad_lines: u64,
    pub companies: u64,
    pub locations: u64,
    pub company_contacts: u64,
    pub customers: u64,
    pub customers_without_email_or_phone: u64,
    pub orders: u64,
    pub line_items: u64,
    pub unmappable: u64,
    /// Company contacts whose row from the companies export was unchanged since it was
    /// last sent (their Contact exists): not sent again.
    pub company_contacts_unchanged: u64,
    /// Latest `updatedAt` per resource (the incremental cursor once the run succeeds).
    pub cursors: HashMap<String, String>,
    /// Hashes of the rows built from the companies export, stored once the run succeeds.
    #[serde(skip)]
    pub company_export_hashes: Vec<(String, i64)>,
}

/// The reader's running state.
pub struct Scanner<'a> {
    pub store: &'a Store,
    pub run: RunId,
    pub ctx: &'a MappingContext,
    pub spool: Spool,
    pub failed: FailedKeys,
    pub tally: ScanTally,
    letters: Vec<NewDeadLetter>,
    orders: Vec<CachedOrder>,
    /// Batches of the order cache go to a writer task, so reading does not wait on the
    /// store (set by [`scan_export`] for the orders reader).
    order_writer: Option<OrderBatches>,
    /// B2B contacts by customer id: (company gid, title, the customer as the company
    /// export holds it). Filled from companies.jsonl, consumed by customers.jsonl.
    company_contacts: HashMap<String, (String, Option<String>, Customer)>,
    /// Company of every known B2B contact, by customer id (legacy ids): those the state
    /// store remembers from earlier runs plus those companies.jsonl lists. A customer here
    /// stays a Contact under the company, and their own orders go to the company's Account.
    buyer_companies: HashMap<String, String>,
    /// Told at the first guest order (orders reader): the guest Account and Contact are
    /// needed, and the customer side, which holds them, can be handed over without
    /// waiting for the rest of the orders.
    guest_signal: Option<tokio::sync::oneshot::Sender<()>>,
    bucket_written: bool,
    progress: Option<Arc<SyncProgress>>,
    /// Identity resolution (`None`: off). B2C customers wait in `pending` and are decided a
    /// batch at a time.
    resolver: Option<Resolver>,
    /// Customers waiting for identity resolution, with the company-contact row of a B2B
    /// contact (written as it is unless the customer is linked or held).
    pending: Vec<(Customer, Option<Row>)>,
    /// Guest checkouts, kept (orders reader) when identity resolution is on.
    collect_guests: bool,
    guest_orders: Vec<GuestOrder>,
    /// Per product (fingerprint of its key): the fingerprint of the inputs its last spooled
    /// Product2 and PricebookEntry rows were built from (see
    /// [`build::catalog_fingerprint`]).
    catalog: HashMap<u64, u64, foldhash::fast::FixedState>,
}

impl<'a> Scanner<'a> {
    pub fn new(store: &'a Store, run: RunId, ctx: &'a MappingContext, spool: Spool) -> Scanner<'a> {
        Scanner {
            store,
            run,
            ctx,
            spool,
            failed: FailedKeys::new(),
            tally: ScanTally::default(),
            letters: Vec::new(),
            orders: Vec::new(),
            order_writer: None,
            company_contacts: HashMap::new(),
            buyer_companies: HashMap::new(),
            guest_signal: None,
            bucket_written: false,
            progress: None,
            resolver: None,
            pending: Vec::new(),
            collect_guests: false,
            guest_orders: Vec::new(),
            catalog: HashMap::default(),
        }
    }

    /// Counts a line read (shown in batches, so the count costs nothing per line).
    fn line_read(&mut self) {
        self.tally.lines += 1;
        if self.tally.lines.is_multiple_of(PROGRESS_LINES)
            && let Some(progress) = &self.progress
        {
            progress.add_source_lines(PROGRESS_LINES);
        }
    }

    /// Counts the lines not yet shown.
    fn lines_done(&self) {
        if let Some(progress) = &self.progress {
            progress.add_source_lines(self.tally.lines % PROGRESS_LINES);
        }
    }

    /// Reads `companies.jsonl` then `customers.jsonl` (companies first: they decide which
    /// customers are B2B contacts). Returns whether either existed.
    pub async fn scan_customers_side(&mut self, dir: &Path) -> Result<bool, SyncError> {
        let mut found = false;
        for name in ["companies.jsonl", "customers.jsonl"] {
            let path = dir.join(name);
            if !path.exists() {
                continue;
            }
            found = true;
            let file = File::open(&path).map_err(|e| SyncError::io(&path, e))?;
            let reader = BufReader::with_capacity(1 << 16, file);
            if name == "companies.jsonl" {
                self.scan_companies(name, reader, &path).await?;
                // Remembered for later runs whose companies export does not list them.
                let members: Vec<(String, String)> = self
                    .company_contacts
                    .iter()
                    .map(|(customer, (company, _, _))| {
                        (customer.clone(), legacy_id(company).to_string())
                    })
                    .collect();
                self.store
                    .put_company_contacts(&self.ctx.shop, &members)
                    .await?;
                for (customer, company) in members {
                    self.buyer_companies.insert(customer, company);
                }
            } else {
                self.scan_customers(name, reader, &path).await?;
            }
        }
        // Company contacts whose customer was not in customers.jsonl: use the company
        // export's copy, unless that copy is what was last sent for a Contact that exists.
        let rest: Vec<_> = self.company_contacts.drain().collect();
        let (existing, sent) = if rest.is_empty() {
            Default::default()
        } else {
            let keys: Vec<&str> = rest.iter().map(|(k, _)| k.as_str()).collect();
            (
                self.store
                    .get_written_records(&self.ctx.shop, "customer", &keys)
                    .await?,
                self.store
                    .company_contact_export_hashes(&self.ctx.shop)
                    .await?,
            )
        };
        for (customer_id, (company, title, customer)) in rest {
            let row = build::company_contact_from_company_export(
                self.ctx,
                &company,
                &customer,
                title.as_deref(),
            );
            let hash = row_hash(&row);
            if existing.contains_key(&customer_id) && sent.get(&customer_id) == Some(&hash) {
                self.tally.company_contacts_unchanged += 1;
                continue;
            }
            self.tally.company_export_hashes.push((customer_id, hash));
            self.push_or_resolve(customer, row).await?;
        }
        self.resolve_pending().await?;
        self.flush().await?;
        self.lines_done();
        Ok(found)
    }

    /// Reads `orders.jsonl`. Returns whether it existed.
    pub async fn scan_orders_side(&mut self, dir: &Path) -> Result<bool, SyncError> {
        let path = dir.join("orders.jsonl");
        if !path.exists() {
            return Ok(false);
        }
        let listed = buyer_companies(&dir.join("companies.jsonl"))?;
        self.buyer_companies.extend(listed);
        let file = File::open(&path).map_err(|e| SyncError::io(&path, e))?;
        let reader = BufReader::with_capacity(1 << 16, file);
        self.scan_orders("orders.jsonl", reader, &path).await?;
        self.lines_done();
        self.flush().await?;
        Ok(true)
    }

    /// The shop's guest-checkout Account and Contact (orders without a customer bill to them).
    pub fn push_guest_rows(&mut self) -> Result<(), SyncError> {
        if self.ctx.account_model == AccountModel::PersonAccount {
            return self.push(build::guest_person_account(self.ctx));
        }
        let account = build::shared_account(
            self.ctx,
            self.ctx.guest_account_key(),
            format!("Shopify guest checkouts ({})", self.ctx.shop),
        );
        self.push(account)?;
        self.push(build::guest_contact(self.ctx))
    }

    fn push(&mut self, row: crate::mapping::row::Row) -> Result<(), SyncError> {
        self.spool.push(&row).map_err(|e| {
            SyncError::Spool(format!("writing the {} spool: {e}", row.target.name()))
        })?;
        Ok(())
    }

    fn bad_line(&mut self, error: LineError) {
        self.tally.bad_lines += 1;
        tracing::warn!(file = %error.file, line = error.line, "skipping a bad JSONL line: {}", error.message);
        self.letters.push(NewDeadLetter {
            run: Some(self.run),
            shop: self.ctx.shop.clone(),
            object: format!("jsonl:{}", error.file),
            external_id: format!("line {}", error.line),
            payload: serde_json::json!({ "file": error.file, "line": error.line }),
            error_code: "MALFORMED_JSONL".to_string(),
            message: error.message,
            hint: Some("the line is not a Shopify object of the expected shape; check the bulk query and re-export".to_string()),
        });
    }

    fn unmappable(&mut self, error: MappingError, payload: serde_json::Value) {
        self.tally.unmappable += 1;
        self.failed
            .entry(key_space(error.target))
            .or_default()
            .insert(error.key.clone());
        self.letters.push(NewDeadLetter {
            run: Some(self.run),
            shop: self.ctx.shop.clone(),
            object: error.target.name().to_string(),
            external_id: error.key,
            payload,
            error_code: error.code.to_string(),
            message: error.message,
            hint: Some(error.hint.to_string()),
        });
    }

    fn cursor(&mut self, resource: &str, updated_at: Option<&str>) {
        if let Some(u) = updated_at {
            let entry = self.tally.cursors.entry(resource.to_string()).or_default();
            if u > entry.as_str() {
                *entry = u.to_string();
            }
        }
    }

    async fn flush_if_full(&mut self) -> Result<(), SyncError> {
        if self.letters.len() >= FLUSH_EVERY || self.orders.len() >= ORDER_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SyncError> {
        if !self.letters.is_empty() {
            self.store.dead_letter(&self.letters).await?;
            self.letters.clear();
        }
        if !self.orders.is_empty() {
            match &mut self.order_writer {
                Some(writer) => {
                    let batch = std::mem::replace(&mut self.orders, writer.empty_batch());
                    writer
                        .full
                        .send(batch)
                        .await
                        .map_err(|_| SyncError::Input("the order-cache writer stopped".into()))?
                }
                None => {
                    self.store.put_orders(&self.orders).await?;
                    self.orders.clear();
                }
            }
        }
        Ok(())
    }

    async fn scan_companies(
        &mut self,
        name: &str,
        reader: BufReader<File>,
        path: &Path,
    ) -> Result<(), SyncError> {
        for line in JsonlLines::new(name, reader, parse_company_line) {
            self.line_read();
            match line.map_err(|e| SyncError::io(path, e))? {
                Err(e) => self.bad_line(e),
                Ok(CompanyLine::Company(c)) => {
                    self.tally.companies += 1;
                    self.cursor("companies", c.updated_at.as_deref());
                    self.push(build::company_account(self.ctx, &c))?;
                }
                Ok(CompanyLine::Location(l)) => {
                    self.tally.locations += 1;
                    self.push(build::location_account(self.ctx, &l))?;
                }
                Ok(CompanyLine::Contact(c)) => {
                    self.tally.company_contacts += 1;
                    if let Some(customer) = c.customer {
                        self.company_contacts.insert(
                            legacy_id(&customer.id).to_string(),
                            (c.parent_id.clone(), c.title.clone(), customer),
                        );
                    }
                }
                Ok(CompanyLine::Ignored) => {}
            }
            self.flush_if_full().await?;
        }
        Ok(())
    }

    async fn scan_customers(
        &mut self,
        name: &str,
        reader: BufReader<File>,
        path: &Path,
    ) -> Result<(), SyncError> {
        for line in JsonlLines::new(name, reader, parse_customer_line) {
            self.line_read();
            match line.map_err(|e| SyncError::io(path, e))? {
                Err(e) => self.bad_line(e),
                Ok(CustomerLine::Customer(c)) => {
                    self.tally.customers += 1;
                    self.cursor("customers", c.updated_at.as_deref());
                    if c.email().is_none() && c.phone().is_none() {
                        // Still synced (the Shopify id is the key), but identity resolution
                        // has nothing to match on: counted and logged.
                        self.tally.customers_without_email_or_phone += 1;
                        tracing::debug!(
                            customer = legacy_id(&c.id),
                            "customer has no email and no phone"
                        );
                    }
                    if let Some((company, title, copy)) =
                        self.company_contacts.remove(legacy_id(&c.id))
                    {
                        let row = build::company_contact(self.ctx, &company, &c, title.as_deref());
                        // The row the companies export's copy would give, if it says nothing
                        // this full row does not: a later run that sees only that copy
                        // (unchanged) need not send it.
                        let partial = build::company_contact_from_company_export(
                            self.ctx,
                            &company,
                            &copy,
                            title.as_deref(),
                        );
                        if partial
                            .cells
                            .iter()
                            .zip(&row.cells)
                            .all(|(p, f)| matches!(p, Cell::Keep) || p == f)
                        {
                            self.tally
                                .company_export_hashes
                                .push((legacy_id(&c.id).to_string(), row_hash(&partial)));
                        }
                        self.push_or_resolve(*c, row).await?;
                        continue;
                    }
                    if let Some(company) = self.buyer_companies.get(legacy_id(&c.id)) {
                        // A B2B contact an earlier companies export listed: still under its
                        // company (its title, not in this export, is left as it is).
                        let mut row = build::company_contact(self.ctx, company, &c, None);
                        row.cells[column(Target::CompanyContact, "Title")] = Cell::Keep;
                        self.push_or_resolve(*c, row).await?;
                        continue;
                    }
                    if self.resolver.is_some() {
                        self.pending.push((*c, None));
                        if self.pending.len() >= RESOLVE_BATCH {
                            self.resolve_pending().await?;
                        }
                    } else {
                        self.push_b2c(&c, None, false)?;
                    }
                }
                Ok(CustomerLine::Ignored) => {}
            }
            self.flush_if_full().await?;
        }
        Ok(())
    }

    /// A B2C customer's rows: their Account (per the account model) and their Contact, or
    /// with a link the Contact identity resolution found, written by Id.
    fn push_b2c(
        &mut self,
        c: &Customer,
        link: Option<&IdentityLink>,
        keep_consent: bool,
    ) -> Result<(), SyncError> {
        match self.ctx.account_model {
            AccountModel::PersonAccount => return self.push(build::person_account(self.ctx, c)),
            AccountModel::PerCustomer => self.push(build::customer_account(self.ctx, c))?,
            AccountModel::Bucket if !self.bucket_written => {
                self.bucket_written = true;
                let row = build::shared_account(
                    self.ctx,
                    self.ctx.bucket_account_key(),
                    format!("Shopify customers ({})", self.ctx.shop),
                );
                self.push(row)?;
            }
            AccountModel::Bucket => {}
        }
        let mut row = match link {
            Some(link) => build::contact_link(self.ctx, &link.contact_id, c, link.primary),
            None => build::customer_contact(self.ctx, c),
        };
        if keep_consent {
            // The CRM's consent stands (a later opt-out of its own): the consent cells are
            // left as the Contact has them.
            Self::keep_consent(&mut row);
        }
        self.push(row)
    }

    /// A B2B contact's row, written now, or after identity resolution when it is on.
    async fn push_or_resolve(&mut self, c: Customer, row: Row) -> Result<(), SyncError> {
        if self.resolver.is_none() {
            return self.push(row);
        }
        self.pending.push((c, Some(row)));
        if self.pending.len() >= RESOLVE_BATCH {
            self.resolve_pending().await?;
        }
        Ok(())
    }

    /// Leaves a row's consent cells as the Contact has them.
    fn keep_consent(row: &mut Row) {
        for name in build::EMAIL_CONSENT_COLUMNS {
            row.cells[column(row.target, name)] = Cell::Keep;
        }
    }

    /// Decides the waiting customers and writes their rows.
    async fn resolve_pending(&mut self) -> Result<(), SyncError> {
        let Some(resolver) = self.resolver.as_mut() else {
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        let (customers, rows): (Vec<Customer>, Vec<Option<Row>>) =
            std::mem::take(&mut self.pending).into_iter().unzip();
        let b2b: Vec<bool> = rows.iter().map(Option::is_some).collect();
        let decisions = resolver.decide(self.store, &customers, &b2b).await?;
        for ((c, row), (decision, keep_consent)) in customers.iter().zip(rows).zip(decisions) {
            match (decision, row) {
                (Decision::Own, None) => self.push_b2c(c, None, keep_consent)?,
                (Decision::Linked(link), None) => self.push_b2c(c, Some(&link), keep_consent)?,
                (Decision::Own, Some(mut row)) => {
                    if keep_consent {
                        Self::keep_consent(&mut row);
                    }
                    self.push(row)?;
                }
                // A company contact who is a Contact the org already has: written by Id,
                // where the CRM keeps it; their company's orders bill to it.
                (Decision::Linked(link), Some(_)) => {
                    let mut row = build::contact_link(self.ctx, &link.contact_id, c, link.primary);
                    if keep_consent {
                        Self::keep_consent(&mut row);
                    }
                    self.push(row)?;
                }
                (Decision::Held { reason }, row) => {
                    let key = legacy_id(&c.id).to_string();
                    let row = row.unwrap_or_else(|| build::customer_contact(self.ctx, c));
                    let spec = row.target.spec();
                    let record: csv::StringRecord =
                        row.cells.iter().map(|cell| cell.as_csv()).collect();
                    self.letters.push(NewDeadLetter {
                        run: Some(self.run),
                        shop: self.ctx.shop.clone(),
                        object: row.target.name().to_string(),
                        external_id: key.clone(),
                        payload: super::prepare::row_json(spec.columns, &record),
                        error_code: "IDENTITY_REVIEW".to_string(),
                        message: format!("held until reviewed: {reason}"),
                        hint: Some("shopforce review list shows the candidates; after shopforce review resolve, a sync that reads this customer again (sync --full re-reads everything) writes them and their orders".to_string()),
                    });
                    // Their orders are held back with them.
                    self.failed
                        .entry(super::prepare::key_space(Target::CustomerContact))
                        .or_default()
                        .insert(key);
                }
            }
        }
        Ok(())
    }

    async fn scan_orders(
        &mut self,
        name: &str,
        reader: BufReader<File>,
        path: &Path,
    ) -> Result<(), SyncError> {
        for line in JsonlLines::new(name, reader, parse_order_line) {
            self.line_read();
            match line.map_err(|e| SyncError::io(path, e))? {
                Err(e) => self.bad_line(e),
                Ok(OrderLine::Order(o)) => {
                    self.tally.orders += 1;
                    self.cursor("orders", o.updated_at.as_deref());
                    if let Some(cached) = cached_order(&self.ctx.shop, &o) {
                        self.orders.push(cached);
                    }
                    if o.customer_id().is_none() && o.company_location().is_none() {
                        if let Some(signal) = self.guest_signal.take() {
                            let _ = signal.send(());
                        }
                        if self.collect_guests {
                            self.guest_orders.push(GuestOrder {
                                order_id: legacy_id(&o.id).to_string(),
                                email: o.email.clone(),
                                phone: o.phone.clone(),
                            });
                        }
                    }
                    let company = o
                        .customer_id()
                        .and_then(|c| self.buyer_companies.get(legacy_id(c)))
                        .map(String::as_str);
                    match build::order(self.ctx, &o, company) {
                        Ok(row) => self.push(row)?,
                        Err(e) => {
                            let payload = serde_json::json!({ "id": o.id, "name": o.name });
                            self.unmappable(e, payload);
                        }
                    }
                }
                Ok(OrderLine::LineItem(item)) => {
                    self.tally.line_items += 1;
                    // A variant's Product2 and PricebookEntry rows are built only when they
                    // differ from the last ones spooled for it (the spool would drop an
                    // identical repeat anyway).
                    let (product, inputs) = build::catalog_fingerprint(&item);
                    let repeat = self.catalog.get(&product) == Some(&inputs);
                    let rows = if repeat {
                        build::line_item_alone(self.ctx, &item).map(|row| (None, row))
                    } else {
                        build::line_item(self.ctx, &item)
                            .map(|[product, price, row]| (Some([product, price]), row))
                    };
                    match rows {
                        Ok((catalog, order_item)) => {
                            if let Some([product_row, price_row]) = catalog {
                                self.push(product_row)?;
                                self.push(price_row)?;
                                self.catalog.insert(product, inputs);
                            }
                            self.push(order_item)?;
                        }
                        Err(e) => {
                            let payload = serde_json::json!({ "id": item.id, "order": item.parent_id, "sku": item.sku });
                            self.unmappable(e, payload);
                        }
                    }
                }
                Ok(OrderLine::Ignored) => {}
            }
            self.flush_if_full().await?;
        }
        Ok(())
    }
}

/// The order as the local cache keeps it (commerce metrics are computed from it). Amounts
/// are shop money in minor units of the order's currency.
fn cached_order(shop: &str, order: &Order) -> Option<CachedOrder> {
    let at = order
        .processed_at
        .as_deref()
        .or(order.created_at.as_deref())?;
    let processed_at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    let total = order.total();
    let currency = total
        .and_then(|m| m.currency_code.clone())
        .or(order.currency_code.clone())
        .unwrap_or_default();
    let exponent = metrics::minor_unit_exponent(&currency);
    let minor = |money: Option<&crate::shopify::model::Money>| {
        money
            .and_then(|m| metrics::parse_minor(&m.amount, exponent))
            .unwrap_or(0)
    };
    Some(CachedOrder {
        shop: shop.to_string(),
        order_id: legacy_id(&order.id).to_string(),
        customer_id: order.customer_id().map(|c| legacy_id(c).to_string()),
        email: order.email.clone(),
        phone: order.phone.clone(),
        processed_at,
        total_minor: minor(total),
        currency,
        cancelled: order.cancelled_at.is_some(),
        financial_status: order.display_financial_status.clone(),
        refunded_minor: minor(order.refunded()),
        company_id: order.company().map(|c| legacy_id(c).to_string()),
        test: order.test,
    })
}

/// Customer id → company id of every company contact in `companies.jsonl` (empty when the
/// file is absent). Bad lines are skipped here: the customers-side reader reports them.
fn buyer_companies(path: &Path) -> Result<HashMap<String, String>, SyncError> {
    let mut companies = HashMap::new();
    if !path.exists() {
        return Ok(companies);
    }
    let file = File::open(path).map_err(|e| SyncError::io(path, e))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    for line in JsonlLines::new("companies.jsonl", reader, parse_company_line) {
        if let Ok(CompanyLine::Contact(c)) = line.map_err(|e| SyncError::io(path, e))?
            && let Some(customer) = &c.customer
        {
            companies.insert(
                legacy_id(&customer.id).to_string(),
                legacy_id(&c.parent_id).to_string(),
            );
        }
    }
    Ok(companies)
}

/// The customer side of an export (companies, locations, customers, their contacts and the
/// guest-checkout records), handed over as soon as it is read: its jobs can run while
/// `orders.jsonl` is still being read.
pub struct CustomerSide {
    pub spools: HashMap<Target, SpoolFile>,
    /// Keys that cannot be written (their children are held back).
    pub failed: FailedKeys,
}

/// What reading the export produced beside the customer side: the orders side's rows, and
/// the whole read's counts and decisions.
pub struct Scanned {
    /// The rows read from `orders.jsonl` (products, price book entries, orders, line items).
    pub spools: HashMap<Target, SpoolFile>,
    /// Counts of the whole read (both sides).
    pub tally: ScanTally,
    /// Keys of the orders side that cannot be written.
    pub failed: FailedKeys,
    /// Cell edits identity resolution decided, per target (orders side).
    pub edits: HashMap<Target, RowEdits>,
    /// Identity-resolution outcomes by kind.
    pub identity: BTreeMap<String, u64>,
}

/// The task that writes the orders read into the order cache. The rows read need not wait
/// for it (no job reads the order cache); the commerce metrics do.
pub struct OrderCacheWriter(tokio::task::JoinHandle<Result<(), SyncError>>);

/// The orders reader's ends of the order-cache writer's queues: full batches go one way,
/// their emptied vectors come back to be filled again. A batch is a few megabytes; a new
/// one for every 10,000 orders meant fresh pages, faulted in and cleared by the kernel,
/// each time.
struct OrderBatches {
    full: tokio::sync::mpsc::Sender<Vec<CachedOrder>>,
    emptied: tokio::sync::mpsc::Receiver<Vec<CachedOrder>>,
}

impl OrderBatches {
    /// An emptied batch back from the writer, or a new one.
    fn empty_batch(&mut self) -> Vec<CachedOrder> {
        self.emptied
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(ORDER_BATCH))
    }
}

impl OrderCacheWriter {
    /// Waits until every order read is in the order cache.
    pub async fn finish(self) -> Result<(), SyncError> {
        self.0
            .await
            .map_err(|e| SyncError::Input(format!("the order-cache writer stopped: {e}")))?
    }
}

fn spool_error(e: std::io::Error) -> SyncError {
    SyncError::Spool(e.to_string())
}

/// Reads an export: `orders.jsonl` on one task and the customer side on another, in
/// parallel (they feed disjoint targets). The customer side is sent on `customer_side` once
/// it is read and it is known whether the guest-checkout Account and Contact belong to it:
/// at the first guest order, or when `orders.jsonl` turns out to have none. Returns the
/// orders side once everything is read, with the order cache's writer, which may still be
/// storing the last orders.
#[allow(clippy::too_many_arguments)]
pub async fn scan_export(
    store: &Store,
    run: RunId,
    ctx: &MappingContext,
    dir: &Path,
    spool_dir: &Path,
    progress: &Arc<SyncProgress>,
    resolver: Option<Resolver>,
    customer_side: tokio::sync::oneshot::Sender<CustomerSide>,
) -> Result<(Scanned, OrderCacheWriter), SyncError> {
    // The order cache is written by its own task while orders.jsonl is read; a few batches
    // may wait while another is written (see ORDER_BATCHES_QUEUED).
    let (full, mut order_queue) =
        tokio::sync::mpsc::channel::<Vec<CachedOrder>>(ORDER_BATCHES_QUEUED);
    // Room for every batch there can be: queued, being written, being filled.
    let (emptied_sender, emptied) = tokio::sync::mpsc::channel(ORDER_BATCHES_QUEUED + 2);
    let order_batches = OrderBatches { full, emptied };
    let store3 = store.clone();
    let order_writer = tokio::spawn(async move {
        let mut first = true;
        while let Some(mut batch) = order_queue.recv().await {
            // A first load (the cache is empty) is written unindexed; the index is built
            // in one pass before the commerce metrics read it (`restore_order_index`).
            if std::mem::take(&mut first) && store3.suspend_order_index().await? {
                tracing::debug!(
                    "order cache empty: its per-customer index is built after the load"
                );
            }
            store3.put_orders(&batch).await?;
            batch.clear();
            // Full (cannot be: see its capacity) or the reader is done: the batch is freed.
            let _ = emptied_sender.try_send(batch);
        }
        Ok::<(), SyncError>(())
    });
    let read = read_sides(
        store,
        run,
        ctx,
        dir,
        spool_dir,
        progress,
        resolver,
        customer_side,
        order_batches,
    )
    .await;
    match read {
        Ok(scanned) => Ok((scanned, OrderCacheWriter(order_writer))),
        Err(e) => {
            // The writer does not outlive the run: the readers are gone, so its queue is
            // closed, and it stops once it has stored what it holds. The read's error
            // explains the run's, not the writer's.
            let _ = order_writer.await;
            Err(e)
        }
    }
}

/// The reading of [`scan_export`]: both sides, the orders sending their order-cache
/// batches on `order_batches`.
#[allow(clippy::too_many_arguments)]
async fn read_sides(
    store: &Store,
    run: RunId,
    ctx: &MappingContext,
    dir: &Path,
    spool_dir: &Path,
    progress: &Arc<SyncProgress>,
    resolver: Option<Resolver>,
    customer_side: tokio::sync::oneshot::Sender<CustomerSide>,
    order_batches: OrderBatches,
) -> Result<Scanned, SyncError> {
    let resolving = resolver.is_some();
    // Two spools in one folder: their targets (and so their file names) do not overlap.
    let customers_spool = Spool::new(spool_dir).map_err(|e| SyncError::io(spool_dir, e))?;
    let orders_spool = Spool::new(spool_dir).map_err(|e| SyncError::io(spool_dir, e))?;
    let source = dir.to_path_buf();
    let (store2, ctx2, source2) = (store.clone(), ctx.clone(), source.clone());
    let progress2 = Arc::clone(progress);
    let known = store.company_contacts(&ctx.shop).await?;
    let known2 = known.clone();
    // Answered at the first guest order; dropped unanswered when the reader ends without one.
    let (guest_signal, guest_seen) = tokio::sync::oneshot::channel();
    // In a set, so that an early return below stops the orders reader instead of leaving
    // it running.
    let mut orders = tokio::task::JoinSet::new();
    orders.spawn(async move {
        let mut scanner = Scanner::new(&store2, run, &ctx2, orders_spool);
        scanner.buyer_companies = known2;
        scanner.order_writer = Some(order_batches);
        scanner.orders = Vec::with_capacity(ORDER_BATCH);
        scanner.progress = Some(progress2);
        scanner.collect_guests = resolving;
        scanner.guest_signal = Some(guest_signal);
        let found = scanner.scan_orders_side(&source2).await;
        // Closing the queue lets the writer finish.
        scanner.order_writer = None;
        let found = found?;
        Ok::<_, SyncError>((
            found,
            scanner.spool,
            scanner.tally,
            scanner.failed,
            scanner.guest_orders,
        ))
    });
    let mut scanner = Scanner::new(store, run, ctx, customers_spool);
    scanner.buyer_companies = known;
    scanner.progress = Some(Arc::clone(progress));
    scanner.resolver = resolver;
    let customers_found = scanner.scan_customers_side(&source).await;
    if customers_found.is_ok() {
        let guests = guest_seen.await.is_ok();
        if guests {
            scanner.push_guest_rows()?;
        }
        let spool = std::mem::replace(
            &mut scanner.spool,
            Spool::new(spool_dir).map_err(|e| SyncError::io(spool_dir, e))?,
        );
        // Not sent: the run stopped, and its error explains why.
        let _ = customer_side.send(CustomerSide {
            spools: spool.finish().map_err(spool_error)?,
            failed: std::mem::take(&mut scanner.failed),
        });
    }
    let (orders_found, orders_spool, orders_tally, orders_failed, guest_orders) = orders
        .join_next()
        .await
        .ok_or_else(|| SyncError::Input("the orders reader vanished".into()))?
        .map_err(|e| SyncError::Input(format!("the orders reader stopped: {e}")))??;
    let customers_found = customers_found?;
    if !customers_found && !orders_found {
        return Err(SyncError::Input(format!(
            "{} holds none of companies.jsonl, customers.jsonl, orders.jsonl",
            source.display()
        )));
    }
    let mut edits = HashMap::new();
    let mut identity = BTreeMap::new();
    if let Some(mut resolver) = scanner.resolver.take() {
        let mut order_edits = resolver
            .guests(store, ctx, &guest_orders, &scanner.buyer_companies)
            .await?;
        // Orders of customers linked to a Contact keyed on another shop's customer bill to
        // that key.
        let bill_to = std::mem::take(&mut resolver.bill_to);
        for target in [Target::LocationOrder, Target::CompanyOrder] {
            let col = column(target, "BillToContact.Shopify_Customer_ID__c");
            let mut e = RowEdits::default();
            e.by_value.push((col, bill_to.clone()));
            edits.insert(target, e);
        }
        let contact_col = column(
            Target::CustomerOrder,
            "BillToContact.Shopify_Customer_ID__c",
        );
        order_edits.by_value.push((contact_col, bill_to));
        edits.insert(Target::CustomerOrder, order_edits);
        identity = resolver.outcomes;
    }
    scanner.flush().await?;
    let mut tally = scanner.tally.clone();
    tally.merge(orders_tally);
    Ok(Scanned {
        spools: orders_spool.finish().map_err(spool_error)?,
        tally,
        failed: orders_failed,
        edits,
        identity,
    })
}

impl ScanTally {
    fn merge(&mut self, other: ScanTally) {
        self.lines += other.lines;
        self.bad_lines += other.bad_lines;
        self.companies += other.companies;
        self.locations += other.locations;
        self.company_contacts += other.company_contacts;
        self.customers += other.customers;
        self.customers_without_email_or_phone += other.customers_without_email_or_phone;
        self.orders += other.orders;
        self.line_items += other.line_items;
        self.unmappable += other.unmappable;
        self.company_contacts_unchanged += other.company_contacts_unchanged;
        self.cursors.extend(other.cursors);
        self.company_export_hashes
            .extend(other.company_export_hashes);
    }
}

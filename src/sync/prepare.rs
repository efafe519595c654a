//! From a spool file to the CSV parts that are uploaded: drops superseded rows, holds back
//! rows whose parent failed, skips rows unchanged since they were last written (payload
//! hashes in the state store), blanks the cells the row may not write (field ownership:
//! CRM-owned fields always, on-create fields when the record exists), sorts children by
//! parent so that Salesforce's 10,000-row internal batches do not contend for one parent's
//! lock, and splits into parts no larger than the configured size (one upload per job).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::mapping::ownership::{TargetRules, Withheld, blank_cells};
use crate::mapping::target::Target;
use crate::store::{StateStore, Store};

use super::SyncError;
use super::spool::{SpoolFile, key_hash};

/// Keys of rows that could not be written, per key space (`Object.External_Id__c`).
pub type FailedKeys = HashMap<String, HashSet<String>>;

/// The key space of a target: rows of targets with the same object and external ID refer
/// to the same records.
pub fn key_space(target: Target) -> String {
    let spec = target.spec();
    format!("{}.{}", spec.object, spec.external_id)
}

/// Cells of a target's rows changed after the read, when a decision made later in the
/// run says so (identity resolution: a guest checkout that turned out to be a customer, a
/// customer whose orders bill to another customer's Contact).
#[derive(Debug, Default, Clone)]
pub struct RowEdits {
    /// Cells to set in the row with this key: (column, value).
    pub by_key: HashMap<String, Vec<(usize, String)>>,
    /// Per column, values to replace: (column, old value → new value).
    pub by_value: Vec<(usize, HashMap<String, String>)>,
}

impl RowEdits {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty() && self.by_value.iter().all(|(_, m)| m.is_empty())
    }

    /// The row with its edits, or `None` when none applies.
    pub fn apply(&self, record: &csv::StringRecord) -> Option<csv::StringRecord> {
        let mut cells: Option<Vec<String>> = None;
        let mut set = |column: usize, value: &str| {
            let cells = cells.get_or_insert_with(|| record.iter().map(str::to_string).collect());
            if let Some(cell) = cells.get_mut(column) {
                *cell = value.to_string();
            }
        };
        if let Some(changes) = record.get(0).and_then(|k| self.by_key.get(k)) {
            for (column, value) in changes {
                set(*column, value);
            }
        }
        for (column, map) in &self.by_value {
            if let Some(new) = record.get(*column).and_then(|v| map.get(v)) {
                set(*column, new);
            }
        }
        cells.map(|c| c.iter().map(String::as_str).collect())
    }
}

/// A row held back because a record it points at failed.
#[derive(Debug, Clone)]
pub struct HeldRow {
    pub key: String,
    pub payload: serde_json::Value,
    pub parent_space: String,
    pub parent_key: String,
}

/// What preparing one target produced.
#[derive(Debug, Default)]
pub struct Prepared {
    pub parts: Vec<PartFile>,
    pub unchanged: u64,
    pub held: Vec<HeldRow>,
    /// Per column of the target: values withheld from the rows sent (field ownership).
    pub withheld: Vec<u64>,
    /// Per parent key space: the hashes ([`key_hash`]) of the parent keys the rows not held
    /// back point at. A parent key failing after the prepare matters only if it is here.
    pub referenced: HashMap<String, HashSet<u64>>,
}

impl Prepared {
    /// Whether a row of these parts points at a key that failed in `now` and not yet in
    /// `before` (the failures the prepare saw).
    pub fn points_at_new_failure(&self, before: &FailedKeys, now: &FailedKeys) -> bool {
        self.referenced.iter().any(|(space, hashes)| {
            let earlier = before.get(space);
            now.get(space).is_some_and(|keys| {
                keys.iter().any(|k| {
                    earlier.is_none_or(|e| !e.contains(k)) && hashes.contains(&key_hash(k))
                })
            })
        })
    }
}

/// One upload: a CSV file with its header.
#[derive(Debug, Clone)]
pub struct PartFile {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// The row as a JSON object, header name → value (dead-letter payloads).
pub fn row_json(columns: &[&str], record: &csv::StringRecord) -> serde_json::Value {
    serde_json::Value::Object(
        columns
            .iter()
            .zip(record.iter())
            .map(|(c, v)| (c.to_string(), serde_json::Value::String(v.to_string())))
            .collect(),
    )
}

/// Where the children of parent `key` go in the upload. Children of one parent are kept
/// together (Salesforce locks a parent while it saves a child, so splitting them across
/// its internal batches makes the batches wait on each other). Parents with numeric keys
/// (Shopify's legacy ids) go in number order: ids grow with time, so the children's own
/// ids then mostly grow too, and their results come back nearly in key order, which lets
/// the id mappings be written while the rest download ([`super::job`]). Other keys go by
/// their hash.
fn parent_order(key: &str) -> u64 {
    if !key.is_empty() && key.len() <= 19 && key.bytes().all(|b| b.is_ascii_digit()) {
        key.parse().unwrap_or_else(|_| key_hash(key))
    } else {
        key_hash(key)
    }
}

/// A row kept for upload, in 24 bytes: a target's kept rows are held until its parts are
/// written (a million line items).
struct Kept {
    sort: u64,
    offset: u64,
    /// The row's length in bytes; the top bit says that [`RowEdits`] apply to it.
    len_and_edited: u32,
    /// Columns to blank before upload (bit per column; no target has more than 32).
    blank: u32,
}

const EDITED: u32 = 1 << 31;

impl Kept {
    fn len(&self) -> u32 {
        self.len_and_edited & !EDITED
    }

    fn edited(&self) -> bool {
        self.len_and_edited & EDITED != 0
    }
}

/// The most columns a target may have (a [`Kept`] row's blank mask is 32 bits).
pub const MAX_COLUMNS: usize = 32;

/// A row waiting for its stored state.
struct Pending {
    key: String,
    hash: i64,
    offset: u64,
    len: u32,
    sort: u64,
    withheld: Withheld,
    edited: bool,
}

const HASH_LOOKUP_BATCH: usize = 10_000;

/// Prepares one target's spool; `rules` say which of its cells each row may write.
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    store: &Store,
    shop: &str,
    spool: &SpoolFile,
    rules: &TargetRules,
    edits: &RowEdits,
    failed: &FailedKeys,
    part_size: u64,
    full: bool,
    out_dir: &Path,
) -> Result<Prepared, SyncError> {
    let target = spool.target;
    debug_assert_eq!(rules.target, target);
    let spec = target.spec();
    let parent_spaces: Vec<(usize, String)> = spec
        .parents
        .iter()
        .map(|p| (p.column, key_space(p.parent)))
        .collect();
    let mut prepared = Prepared {
        withheld: vec![0; spec.columns.len()],
        ..Prepared::default()
    };
    let mut referenced: Vec<HashSet<u64>> = vec![HashSet::new(); parent_spaces.len()];
    let mut kept: Vec<Kept> = Vec::with_capacity(spool.distinct() as usize);
    let mut pending: Vec<Pending> = Vec::with_capacity(HASH_LOOKUP_BATCH);

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 18)
        .from_path(&spool.path)
        .map_err(|e| SyncError::Spool(format!("{}: {e}", spool.path.display())))?;
    // Read the header now, so that the first position is the first row's.
    reader
        .headers()
        .map_err(|e| SyncError::Spool(format!("{}: {e}", spool.path.display())))?;
    let mut record = csv::StringRecord::new();
    let mut index: u32 = 0;
    let mut previous: Option<Pending> = None; // its length is known once the next row starts
    let file_len = std::fs::metadata(&spool.path)
        .map_err(|e| SyncError::io(&spool.path, e))?
        .len();

    // Whether each record exists (it has a mapping) and the hash it was last written with.
    // With no mapping of the kind at all (a first run), nothing is looked up: none exists.
    // No job of this kind runs while it is prepared, so none can appear meanwhile.
    let any_written = store.has_mappings(shop, spec.mapping_kind).await?;
    let flush = async |pending: &mut Vec<Pending>,
                       kept: &mut Vec<Kept>,
                       prepared: &mut Prepared|
           -> Result<(), SyncError> {
        if pending.is_empty() {
            return Ok(());
        }
        // A level is prepared beside the jobs of the level before it, on the same task: let
        // their polls and result downloads run between batches (with nothing to look up, a
        // large target's rows would otherwise hold the task for a second and more).
        tokio::task::yield_now().await;
        let stored = if any_written {
            let keys: Vec<&str> = pending.iter().map(|p| p.key.as_str()).collect();
            store
                .get_written_records(shop, spec.mapping_kind, &keys)
                .await?
        } else {
            HashMap::new()
        };
        for p in pending.drain(..) {
            let state = stored.get(&p.key);
            if !full && state.is_some_and(|hash| *hash == Some(p.hash)) {
                prepared.unchanged += 1;
                continue;
            }
            let blank = p.withheld.mask(spec.record_exists(state.is_some()));
            for (column, _) in rules.fields_in(blank) {
                prepared.withheld[column] += 1;
            }
            debug_assert!(p.len < EDITED && blank < 1 << MAX_COLUMNS);
            kept.push(Kept {
                sort: p.sort,
                offset: p.offset,
                len_and_edited: p.len | if p.edited { EDITED } else { 0 },
                blank: blank as u32,
            });
        }
        Ok(())
    };

    loop {
        let position = reader.position().byte();
        let more = reader
            .read_record(&mut record)
            .map_err(|e| SyncError::Spool(format!("{}: {e}", spool.path.display())))?;
        // The row before this one ends where this one starts.
        if let Some(mut row) = previous.take() {
            row.len = (position - row.offset) as u32;
            pending.push(row);
            if pending.len() >= HASH_LOOKUP_BATCH {
                flush(&mut pending, &mut kept, &mut prepared).await?;
            }
        }
        if !more {
            break;
        }
        let this = index;
        index += 1;
        if spool.superseded.contains(&this) {
            continue;
        }
        let edited = if edits.is_empty() {
            None
        } else {
            edits.apply(&record)
        };
        let is_edited = edited.is_some();
        if let Some(e) = edited {
            record = e;
        }
        let key = record.get(0).unwrap_or("").to_string();
        let mut held = None;
        for (column, parent_space) in &parent_spaces {
            let parent_key = record.get(*column).unwrap_or("");
            if failed
                .get(parent_space)
                .is_some_and(|keys| keys.contains(parent_key))
            {
                held = Some((parent_space.clone(), parent_key.to_string()));
                break;
            }
        }
        if let Some((parent_space, parent_key)) = held {
            prepared.held.push(HeldRow {
                key,
                payload: row_json(spec.columns, &record),
                parent_space,
                parent_key,
            });
            continue;
        }
        for ((column, _), hashes) in parent_spaces.iter().zip(&mut referenced) {
            if let Some(parent_key) = record.get(*column).filter(|k| !k.is_empty()) {
                hashes.insert(key_hash(parent_key));
            }
        }
        let sort = spec
            .parents
            .first()
            .map(|p| parent_order(record.get(p.column).unwrap_or("")))
            .unwrap_or(0);
        previous = Some(Pending {
            key,
            hash: rules.delta_hash(record.iter()),
            offset: position,
            len: 0,
            sort,
            withheld: rules.withheld(record.iter()),
            edited: is_edited,
        });
    }
    debug_assert!(kept.iter().all(|k| k.offset + k.len() as u64 <= file_len));
    flush(&mut pending, &mut kept, &mut prepared).await?;

    for ((_, space), hashes) in parent_spaces.into_iter().zip(referenced) {
        match prepared.referenced.entry(space) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().extend(hashes),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(hashes);
            }
        }
    }
    // The sort and the copying of rows into parts run on a blocking thread: a level is
    // prepared on the task that polls the jobs of the level before it, and these have no
    // await point to let a poll in.
    let (spool_path, edits, out_dir) = (spool.path.clone(), edits.clone(), out_dir.to_path_buf());
    prepared.parts = tokio::task::spawn_blocking(move || {
        // Children of one parent next to each other (parents in key order); otherwise
        // the spool order. Unstable: the keys are unique (offsets are), and it needs no
        // scratch copy of the rows.
        kept.sort_unstable_by_key(|k| (k.sort, k.offset));
        write_parts(target, &spool_path, &kept, &edits, part_size, &out_dir)
    })
    .await
    .map_err(|e| SyncError::Spool(format!("writing the parts of {}: {e}", target.name())))??;
    Ok(prepared)
}

fn header_line(target: Target) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(target.spec().columns);
    w.into_inner().unwrap_or_default()
}

/// The most bytes of adjacent spooled rows read with one call.
const READ_SPAN: u64 = 1 << 20;

fn write_parts(
    target: Target,
    spool_path: &Path,
    kept: &[Kept],
    edits: &RowEdits,
    part_size: u64,
    out_dir: &Path,
) -> Result<Vec<PartFile>, SyncError> {
    std::fs::create_dir_all(out_dir).map_err(|e| SyncError::io(out_dir, e))?;
    let source = File::open(spool_path).map_err(|e| SyncError::io(spool_path, e))?;
    let header = header_line(target);
    let mut parts = Vec::new();
    let mut current: Option<(BufWriter<File>, PartFile)> = None;
    // Rows next to each other in the spool (all of a target without parents, the line
    // items of one order) are read with one call: `span` holds the bytes of the run of
    // rows that `k` belongs to, from `span_start` in the file.
    let mut span: Vec<u8> = Vec::new();
    let mut span_start = 0u64;
    for (i, k) in kept.iter().enumerate() {
        let in_span = k.offset >= span_start
            && k.offset + u64::from(k.len()) <= span_start + span.len() as u64;
        if !in_span {
            let mut end = k.offset + u64::from(k.len());
            for next in &kept[i + 1..] {
                let next_end = next.offset + u64::from(next.len());
                if next.offset != end || next_end - k.offset > READ_SPAN {
                    break;
                }
                end = next_end;
            }
            span.resize((end - k.offset) as usize, 0);
            source
                .read_exact_at(&mut span, k.offset)
                .map_err(|e| SyncError::io(spool_path, e))?;
            span_start = k.offset;
        }
        let at = (k.offset - span_start) as usize;
        let buffer = &span[at..at + k.len() as usize];
        let needed = k.len() as u64;
        let full = current
            .as_ref()
            .is_some_and(|(_, p)| p.rows > 0 && p.bytes + needed > part_size);
        if full && let Some((mut w, p)) = current.take() {
            w.flush().map_err(|e| SyncError::io(&p.path, e))?;
            parts.push(p);
        }
        if current.is_none() {
            let path = out_dir.join(format!("{}-part{:03}.csv", target.name(), parts.len() + 1));
            let file = File::create(&path).map_err(|e| SyncError::io(&path, e))?;
            let mut w = BufWriter::with_capacity(1 << 16, file);
            w.write_all(&header).map_err(|e| SyncError::io(&path, e))?;
            current = Some((
                w,
                PartFile {
                    path,
                    rows: 0,
                    bytes: header.len() as u64,
                },
            ));
        }
        let Some((w, p)) = current.as_mut() else {
            continue;
        };
        let bytes = if k.blank == 0 && !k.edited() {
            std::borrow::Cow::Borrowed(buffer)
        } else {
            std::borrow::Cow::Owned(
                rewrite_row(buffer, u64::from(k.blank), k.edited().then_some(edits))
                    .map_err(|e| SyncError::Spool(format!("{}: {e}", spool_path.display())))?,
            )
        };
        w.write_all(&bytes).map_err(|e| SyncError::io(&p.path, e))?;
        p.rows += 1;
        p.bytes += bytes.len() as u64;
    }
    if let Some((mut w, p)) = current.take() {
        w.flush().map_err(|e| SyncError::io(&p.path, e))?;
        parts.push(p);
    }
    Ok(parts)
}

/// One spooled CSV row (with its line end) with its edits applied and the cells in `mask`
/// blanked, as CSV again.
fn rewrite_row(line: &[u8], mask: u64, edits: Option<&RowEdits>) -> Result<Vec<u8>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line);
    let mut record = csv::StringRecord::new();
    reader.read_record(&mut record)?;
    if let Some(edited) = edits.and_then(|e| e.apply(&record)) {
        record = edited;
    }
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(line.len()));
    writer.write_record(&blank_cells(&record, mask))?;
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_is_invalid_only_when_a_row_points_at_a_key_that_failed_since() {
        let keys = |space: &str, ks: &[&str]| -> FailedKeys {
            HashMap::from([(
                space.to_string(),
                ks.iter().map(|k| k.to_string()).collect(),
            )])
        };
        let prepared = Prepared {
            referenced: HashMap::from([(
                "Order.Shopify_Order_ID__c".to_string(),
                ["1001", "1002"].map(key_hash).into_iter().collect(),
            )]),
            ..Prepared::default()
        };
        let before = keys("Order.Shopify_Order_ID__c", &["1001"]);
        // Nothing new, or a new failure no row points at, or one in another key space.
        assert!(!prepared.points_at_new_failure(&before, &before));
        let unrelated = keys("Order.Shopify_Order_ID__c", &["1001", "9999"]);
        assert!(!prepared.points_at_new_failure(&before, &unrelated));
        let elsewhere = keys("Contact.Shopify_Customer_ID__c", &["1002"]);
        assert!(!prepared.points_at_new_failure(&before, &elsewhere));
        // A parent of a row failed since.
        let now = keys("Order.Shopify_Order_ID__c", &["1001", "1002"]);
        assert!(prepared.points_at_new_failure(&before, &now));
        assert!(prepared.points_at_new_failure(&FailedKeys::new(), &before));
    }

    #[test]
    fn every_target_fits_a_kept_rows_blank_mask() {
        for target in Target::ALL {
            assert!(
                target.spec().columns.len() <= MAX_COLUMNS,
                "{} has {} columns",
                target.name(),
                target.spec().columns.len()
            );
        }
        assert_eq!(std::mem::size_of::<Kept>(), 24);
    }

    #[test]
    fn a_blanked_row_keeps_every_other_cell_byte_for_byte() {
        let line = b"42,\"Smith, Jr.\",\"multi\nline\",=1+1,\n";
        let out = rewrite_row(line, 0b0010, None).unwrap();
        assert_eq!(out, b"42,,\"multi\nline\",=1+1,\n");
        let mut edits = RowEdits::default();
        edits.by_key.insert("42".into(), vec![(3, "x".into())]);
        edits
            .by_value
            .push((4, HashMap::from([(String::new(), "y".to_string())])));
        let out = rewrite_row(line, 0b0010, Some(&edits)).unwrap();
        assert_eq!(out, b"42,,\"multi\nline\",x,y\n");
    }

    /// Parts hold the kept rows in the kept order, byte for byte (blanked where the mask
    /// says), whether rows are read one at a time, in runs of neighbours, or in runs cut at
    /// [`READ_SPAN`]; and a new part starts where the size limit says.
    #[test]
    fn parts_hold_the_kept_rows_in_order_however_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.csv");
        // Rows of varied length (a few long enough that runs cross READ_SPAN).
        let rows: Vec<Vec<u8>> = (0..400)
            .map(|i| {
                let filler = "x".repeat(if i % 50 == 7 { 300_000 } else { i % 13 });
                format!("{i},\"name, {i}\",{filler}\n").into_bytes()
            })
            .collect();
        let mut offsets = Vec::new();
        let mut bytes = b"Key,Name,Note\n".to_vec();
        for row in &rows {
            offsets.push(bytes.len() as u64);
            bytes.extend_from_slice(row);
        }
        std::fs::write(&spool, &bytes).unwrap();
        let kept_row = |i: usize, blank: u32| Kept {
            sort: 0,
            offset: offsets[i],
            len_and_edited: rows[i].len() as u32,
            blank,
        };
        // Runs of neighbours, rows out of file order, a row read twice over, one blanked.
        let order: Vec<usize> = (100..400)
            .chain([5, 3, 4, 0, 1, 2])
            .chain(50..100)
            .chain((6..50).rev())
            .collect();
        let kept: Vec<Kept> = order
            .iter()
            .map(|&i| kept_row(i, if i == 60 { 0b10 } else { 0 }))
            .collect();
        let expected = |i: usize| {
            if i == 60 {
                format!("{i},,{}\n", "x".repeat(i % 13)).into_bytes()
            } else {
                rows[i].clone()
            }
        };
        for part_size in [u64::MAX, 1_000_000] {
            let out = dir.path().join(format!("parts-{part_size}"));
            let parts = write_parts(
                Target::Product,
                &spool,
                &kept,
                &RowEdits::default(),
                part_size,
                &out,
            )
            .unwrap();
            let header = header_line(Target::Product);
            let mut got = Vec::new();
            for part in &parts {
                let content = std::fs::read(&part.path).unwrap();
                assert!(content.starts_with(&header));
                assert_eq!(content.len() as u64, part.bytes);
                assert!(part.rows == 1 || part.bytes <= part_size);
                got.extend_from_slice(&content[header.len()..]);
            }
            let want: Vec<u8> = order.iter().flat_map(|&i| expected(i)).collect();
            assert_eq!(got, want, "part size {part_size}");
            assert_eq!(
                parts.iter().map(|p| p.rows).sum::<u64>(),
                order.len() as u64
            );
            if part_size != u64::MAX {
                assert!(parts.len() > 2);
            }
        }
    }
}

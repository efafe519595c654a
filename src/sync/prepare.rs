//! From a spool file to the CSV parts that are uploaded: drops superseded rows, holds back
//! rows whose parent failed, skips rows unchanged since they were last written (payload
//! hashes in the state store), sorts children by parent so that Salesforce's 10,000-row
//! internal batches do not contend for one parent's lock, and splits into parts no larger
//! than the configured size (one upload per job).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::mapping::csv_file::payload_hash;
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

struct Kept {
    sort: u64,
    offset: u64,
    len: u32,
}

const HASH_LOOKUP_BATCH: usize = 2000;

/// Prepares one target's spool.
pub async fn prepare(
    store: &Store,
    shop: &str,
    spool: &SpoolFile,
    failed: &FailedKeys,
    part_size: u64,
    full: bool,
    out_dir: &Path,
) -> Result<Prepared, SyncError> {
    let target = spool.target;
    let spec = target.spec();
    let parent_spaces: Vec<(usize, String)> = spec
        .parents
        .iter()
        .map(|p| (p.column, key_space(p.parent)))
        .collect();
    let mut prepared = Prepared::default();
    let mut kept: Vec<Kept> = Vec::with_capacity(spool.distinct() as usize);
    // Rows waiting for their stored hashes: (key, hash, offset, len, sort).
    let mut pending: Vec<(String, i64, u64, u32, u64)> = Vec::with_capacity(HASH_LOOKUP_BATCH);

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(&spool.path)
        .map_err(|e| SyncError::Spool(format!("{}: {e}", spool.path.display())))?;
    // Read the header now, so that the first position is the first row's.
    reader
        .headers()
        .map_err(|e| SyncError::Spool(format!("{}: {e}", spool.path.display())))?;
    let mut record = csv::StringRecord::new();
    let mut index: u32 = 0;
    let mut previous: Option<(u64, String, i64, u64)> = None; // (offset, key, hash, sort)
    let file_len = std::fs::metadata(&spool.path)
        .map_err(|e| SyncError::io(&spool.path, e))?
        .len();

    let flush = async |pending: &mut Vec<(String, i64, u64, u32, u64)>,
                       kept: &mut Vec<Kept>,
                       unchanged: &mut u64|
           -> Result<(), SyncError> {
        if pending.is_empty() {
            return Ok(());
        }
        let stored = if full {
            HashMap::new()
        } else {
            let keys: Vec<&str> = pending.iter().map(|p| p.0.as_str()).collect();
            store
                .get_payload_hashes(shop, spec.mapping_kind, &keys)
                .await?
        };
        for (key, hash, offset, len, sort) in pending.drain(..) {
            if stored.get(&key) == Some(&hash) {
                *unchanged += 1;
            } else {
                kept.push(Kept { sort, offset, len });
            }
        }
        Ok(())
    };

    loop {
        let position = reader.position().byte();
        let more = reader
            .read_record(&mut record)
            .map_err(|e| SyncError::Spool(format!("{}: {e}", spool.path.display())))?;
        // The row before this one ends where this one starts.
        if let Some((offset, key, hash, sort)) = previous.take() {
            pending.push((key, hash, offset, (position - offset) as u32, sort));
            if pending.len() >= HASH_LOOKUP_BATCH {
                flush(&mut pending, &mut kept, &mut prepared.unchanged).await?;
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
        let hash = payload_hash(record.iter());
        let sort = spec
            .parents
            .first()
            .map(|p| key_hash(record.get(p.column).unwrap_or("")))
            .unwrap_or(0);
        previous = Some((position, key, hash, sort));
    }
    debug_assert!(kept.iter().all(|k| k.offset + k.len as u64 <= file_len));
    flush(&mut pending, &mut kept, &mut prepared.unchanged).await?;

    // Children of one parent next to each other; otherwise the spool order.
    kept.sort_by_key(|k| (k.sort, k.offset));
    prepared.parts = write_parts(target, &spool.path, &kept, part_size, out_dir)?;
    Ok(prepared)
}

fn header_line(target: Target) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(target.spec().columns);
    w.into_inner().unwrap_or_default()
}

fn write_parts(
    target: Target,
    spool_path: &Path,
    kept: &[Kept],
    part_size: u64,
    out_dir: &Path,
) -> Result<Vec<PartFile>, SyncError> {
    std::fs::create_dir_all(out_dir).map_err(|e| SyncError::io(out_dir, e))?;
    let source = File::open(spool_path).map_err(|e| SyncError::io(spool_path, e))?;
    let header = header_line(target);
    let mut parts = Vec::new();
    let mut current: Option<(BufWriter<File>, PartFile)> = None;
    let mut buffer = Vec::new();
    for k in kept {
        let needed = k.len as u64;
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
        buffer.resize(k.len as usize, 0);
        source
            .read_exact_at(&mut buffer, k.offset)
            .map_err(|e| SyncError::io(spool_path, e))?;
        w.write_all(&buffer)
            .map_err(|e| SyncError::io(&p.path, e))?;
        p.rows += 1;
        p.bytes += needed;
    }
    if let Some((mut w, p)) = current.take() {
        w.flush().map_err(|e| SyncError::io(&p.path, e))?;
        parts.push(p);
    }
    Ok(parts)
}

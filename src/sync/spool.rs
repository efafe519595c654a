//! The spool: every row the source produces, one CSV file per target, written as the
//! JSONL is read. Rows with the same external ID are collapsed (the latest wins: Salesforce
//! rejects every row of a job that shares a key); an identical repeat (the same product on
//! many line items) is not written at all. Memory per target: 24 bytes per distinct key.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::mapping::csv_file::CsvWriter;
use crate::mapping::row::Row;
use crate::mapping::target::Target;

/// In-memory fingerprint of a row's cells (telling an identical repeat from a changed
/// one within a run; never stored, so it need not be stable across versions).
fn cells_hash(row: &Row) -> i64 {
    let state = foldhash::fast::FixedState::with_seed(0x63656c6c73);
    let mut hasher = std::hash::BuildHasher::build_hasher(&state);
    for cell in &row.cells {
        std::hash::Hash::hash(cell.as_csv(), &mut hasher);
    }
    std::hash::Hasher::finish(&hasher) as i64
}

/// 64-bit hash of an external ID within one target (collapsing duplicates; sorting by
/// parent). Not persisted.
pub fn key_hash(key: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x73706f6f6c).hash_one(key)
}

struct TargetSpool {
    path: PathBuf,
    writer: CsvWriter<BufWriter<File>>,
    rows: u32,
    /// Key hash → (row index, payload hash) of its latest row.
    seen: HashMap<u64, (u32, i64), foldhash::fast::FixedState>,
    /// Rows replaced by a later row with the same key.
    superseded: HashSet<u32, foldhash::fast::FixedState>,
}

/// Rows written for one target, ready to be prepared for upload.
#[derive(Debug)]
pub struct SpoolFile {
    pub target: Target,
    pub path: PathBuf,
    /// Rows written (superseded ones included).
    pub rows: u32,
    pub superseded: HashSet<u32, foldhash::fast::FixedState>,
    /// Cell changes decided after the read (identity resolution), applied when prepared.
    pub edits: super::prepare::RowEdits,
}

impl SpoolFile {
    /// Distinct keys in the file.
    pub fn distinct(&self) -> u32 {
        self.rows - self.superseded.len() as u32
    }
}

/// All targets' spools of one run.
pub struct Spool {
    dir: PathBuf,
    targets: HashMap<Target, TargetSpool>,
}

impl Spool {
    pub fn new(dir: &Path) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            targets: HashMap::new(),
        })
    }

    /// Adds a row; returns false when it repeats an identical row already spooled.
    pub fn push(&mut self, row: &Row) -> std::io::Result<bool> {
        if !self.targets.contains_key(&row.target) {
            let path = self.dir.join(format!("spool-{}.csv", row.target.name()));
            let writer = CsvWriter::new(
                row.target,
                BufWriter::with_capacity(1 << 16, File::create(&path)?),
            )?;
            self.targets.insert(
                row.target,
                TargetSpool {
                    path,
                    writer,
                    rows: 0,
                    seen: HashMap::default(),
                    superseded: HashSet::default(),
                },
            );
        }
        let spool = self
            .targets
            .get_mut(&row.target)
            .ok_or_else(|| std::io::Error::other("spool vanished"))?;
        let key = key_hash(row.key());
        let hash = cells_hash(row);
        // One probe of the table, not a lookup and then an insert (with a million
        // line-item keys a probe is likely a cache miss; no gain measurable end to end).
        match spool.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut seen) => {
                let (previous, previous_hash) = *seen.get();
                if previous_hash == hash {
                    return Ok(false);
                }
                spool.superseded.insert(previous);
                seen.insert((spool.rows, hash));
            }
            std::collections::hash_map::Entry::Vacant(seen) => {
                seen.insert((spool.rows, hash));
            }
        }
        spool.writer.write(row)?;
        spool.rows += 1;
        Ok(true)
    }

    /// Whether a row with this key was spooled for `target`.
    pub fn contains(&self, target: Target, key: &str) -> bool {
        self.targets
            .get(&target)
            .is_some_and(|s| s.seen.contains_key(&key_hash(key)))
    }

    /// Closes every file.
    pub fn finish(self) -> std::io::Result<HashMap<Target, SpoolFile>> {
        let mut out = HashMap::new();
        for (target, spool) in self.targets {
            let mut inner = spool.writer.finish()?;
            std::io::Write::flush(&mut inner)?;
            out.insert(
                target,
                SpoolFile {
                    target,
                    path: spool.path,
                    rows: spool.rows,
                    superseded: spool.superseded,
                    edits: Default::default(),
                },
            );
        }
        Ok(out)
    }
}

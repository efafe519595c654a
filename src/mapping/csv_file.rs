//! CSV for Bulk API 2.0 ingest jobs: comma-delimited, LF line endings, UTF-8 without a BOM,
//! quoted only where needed (the `csv` crate's rules: commas, quotes, CR/LF). Any text
//! round-trips unchanged, including leading `=`, `+`, `-` or `@`: Salesforce stores the text,
//! it does not evaluate it.

use sha2::{Digest, Sha256};

use super::row::Row;
use super::target::Target;

/// Writes rows of one target as CSV into any writer.
pub struct CsvWriter<W: std::io::Write> {
    inner: csv::Writer<W>,
    target: Target,
    rows: u64,
}

impl<W: std::io::Write> CsvWriter<W> {
    /// Starts a file: writes the target's header.
    pub fn new(target: Target, out: W) -> std::io::Result<CsvWriter<W>> {
        let mut inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(out);
        inner.write_record(target.spec().columns)?;
        Ok(CsvWriter {
            inner,
            target,
            rows: 0,
        })
    }

    pub fn write(&mut self, row: &Row) -> std::io::Result<()> {
        debug_assert_eq!(row.target, self.target);
        self.inner
            .write_record(row.cells.iter().map(|c| c.as_csv()))?;
        self.rows += 1;
        Ok(())
    }

    /// Writes a row given as CSV cell texts (rows read back from a result file).
    pub fn write_texts<'a>(
        &mut self,
        cells: impl IntoIterator<Item = &'a str>,
    ) -> std::io::Result<()> {
        self.inner.write_record(cells)?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// A stable fingerprint of what a row writes (cells as CSV text), used to skip rows that
/// are unchanged since they were last stored. The same cells always give the same value,
/// across runs and machines.
pub fn payload_hash<'a>(cells: impl IntoIterator<Item = &'a str>) -> i64 {
    let mut hasher = Sha256::new();
    for cell in cells {
        hasher.update((cell.len() as u64).to_le_bytes());
        hasher.update(cell.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// [`payload_hash`] of a row.
pub fn row_hash(row: &Row) -> i64 {
    payload_hash(row.cells.iter().map(|c| c.as_csv()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mapping::row::Cell;

    fn product(name: &str) -> Row {
        Row::new(
            Target::Product,
            vec![
                Cell::Text("1".into()),
                Cell::Text(name.into()),
                Cell::Keep,
                Cell::Clear,
                Cell::Text("9".into()),
            ],
        )
    }

    #[test]
    fn header_cells_nulls_and_quoting() {
        let mut w = CsvWriter::new(Target::Product, Vec::new()).unwrap();
        w.write(&product("Widget, \"large\"\nsecond line")).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            text,
            "Shopify_Variant_ID__c,Name,ProductCode,IsActive,Shopify_Product_ID__c\n1,\"Widget, \"\"large\"\"\nsecond line\",,#N/A,9\n"
        );
    }

    #[test]
    fn hashes_tell_cells_apart() {
        assert_ne!(payload_hash(["ab", "c"]), payload_hash(["a", "bc"]));
        assert_eq!(payload_hash(["x", ""]), payload_hash(["x", ""]));
        assert_ne!(row_hash(&product("a")), row_hash(&product("b")));
    }

    proptest! {
        /// Whatever the text, the csv reader Salesforce-style parsing gives back the same cells.
        #[test]
        fn any_text_round_trips(name in "\\PC*", extra in "[=+@\\-\"',\\n\\r ]{0,6}\\PC{0,10}") {
            let value = format!("{extra}{name}");
            let mut w = CsvWriter::new(Target::Product, Vec::new()).unwrap();
            w.write(&product(&value)).unwrap();
            let bytes = w.finish().unwrap();
            let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
            let record = reader.records().next().unwrap().unwrap();
            prop_assert_eq!(record.get(1).unwrap(), value.as_str());
            prop_assert_eq!(record.get(3).unwrap(), "#N/A");
        }
    }
}

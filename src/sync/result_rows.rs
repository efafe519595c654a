//! Rows of a Bulk result file read while it downloads: the bytes arrive in chunks that
//! end anywhere (mid-row, mid-field, inside a quoted newline), and each complete row is
//! handed on as soon as its last byte is in.

use memchr::memchr2_iter;

/// Bytes gathered before complete rows are parsed: a CSV reader per batch costs a buffer
/// allocation, so batches are not made for every network chunk.
const PARSE_AT: usize = 256 * 1024;

/// Splits a CSV byte stream at row boundaries: a newline outside quotes. (An escaped quote
/// is two quote characters, so counting quotes tells inside from outside.)
#[derive(Debug, Default)]
struct RowSplitter {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for quotes and newlines.
    scanned: usize,
    in_quotes: bool,
    /// End of the last complete row in `buf`.
    complete: usize,
}

impl RowSplitter {
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        for at in memchr2_iter(b'"', b'\n', &self.buf[self.scanned..]) {
            let at = self.scanned + at;
            if self.buf[at] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes {
                self.complete = at + 1;
            }
        }
        self.scanned = self.buf.len();
    }

    /// Removes the complete rows from the front, hands them to `f`.
    fn take_complete<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> T {
        let out = f(&self.buf[..self.complete]);
        self.buf.drain(..self.complete);
        self.scanned -= self.complete;
        self.complete = 0;
        out
    }
}

/// A result file's rows (its header skipped) from its bytes in any chunking.
#[derive(Debug, Default)]
pub struct ResultRows {
    splitter: RowSplitter,
    header_seen: bool,
    record: csv::StringRecord,
    rows: u64,
}

impl ResultRows {
    pub fn new() -> ResultRows {
        ResultRows::default()
    }

    /// Rows handed to a visitor so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Takes the next bytes; visits the rows they complete (in batches of about
    /// [`PARSE_AT`] bytes).
    pub fn push<E>(
        &mut self,
        data: &[u8],
        visit: impl FnMut(&csv::StringRecord) -> Result<(), E>,
        bad: impl Fn(String) -> E,
    ) -> Result<(), E> {
        self.splitter.push(data);
        if self.splitter.complete < PARSE_AT {
            return Ok(());
        }
        self.parse_complete(visit, bad)
    }

    /// The file has ended: visits every row not visited yet (the last may have no
    /// newline).
    pub fn finish<E>(
        &mut self,
        mut visit: impl FnMut(&csv::StringRecord) -> Result<(), E>,
        bad: impl Fn(String) -> E,
    ) -> Result<(), E> {
        self.parse_complete(&mut visit, &bad)?;
        self.splitter.complete = self.splitter.buf.len();
        self.parse_complete(visit, bad)
    }

    fn parse_complete<E>(
        &mut self,
        mut visit: impl FnMut(&csv::StringRecord) -> Result<(), E>,
        bad: impl Fn(String) -> E,
    ) -> Result<(), E> {
        let (header_seen, record, rows) = (&mut self.header_seen, &mut self.record, &mut self.rows);
        self.splitter.take_complete(|bytes| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            loop {
                match reader.read_record(record) {
                    Ok(true) if !*header_seen => *header_seen = true,
                    Ok(true) => {
                        *rows += 1;
                        visit(record)?;
                    }
                    Ok(false) => return Ok(()),
                    Err(e) => return Err(bad(e.to_string())),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rows_of(chunks: &[&[u8]]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut reader = ResultRows::new();
        let mut visit = |r: &csv::StringRecord| {
            out.push(r.iter().map(str::to_string).collect::<Vec<_>>());
            Ok::<(), String>(())
        };
        for chunk in chunks {
            reader.push(chunk, &mut visit, |e| e).unwrap();
        }
        reader.finish(&mut visit, |e| e).unwrap();
        out
    }

    const FILE: &[u8] = b"\"sf__Id\",\"sf__Created\",Name,Note\n\
        001A,true,\"Acme, Inc.\",\"line one\nline \"\"two\"\"\"\n\
        001B,false,Plain,\n\
        001C,true,\"\xc3\x89lise\",last";

    fn expected() -> Vec<Vec<String>> {
        vec![
            vec!["001A", "true", "Acme, Inc.", "line one\nline \"two\""],
            vec!["001B", "false", "Plain", ""],
            vec!["001C", "true", "Élise", "last"],
        ]
        .into_iter()
        .map(|r| r.into_iter().map(str::to_string).collect())
        .collect()
    }

    #[test]
    fn rows_split_inside_quotes_and_escaped_quotes_come_out_whole() {
        // Every cut point, including inside the quoted newline and the "" escapes.
        for cut in 0..=FILE.len() {
            let (a, b) = FILE.split_at(cut);
            assert_eq!(rows_of(&[a, b]), expected(), "cut at {cut}");
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = FILE.chunks(1).collect();
        assert_eq!(rows_of(&bytes), expected());
    }

    #[test]
    fn a_header_only_or_empty_file_has_no_rows() {
        assert!(rows_of(&[b"\"sf__Id\",\"sf__Created\"\n"]).is_empty());
        assert!(rows_of(&[b""]).is_empty());
    }

    #[test]
    fn crlf_line_endings_and_large_batches_are_read() {
        let mut file = b"sf__Id,sf__Created,Key\r\n".to_vec();
        for i in 0..50_000 {
            file.extend_from_slice(format!("a{i},true,\"k,{i}\"\r\n").as_bytes());
        }
        let chunks: Vec<&[u8]> = file.chunks(7919).collect();
        let rows = rows_of(&chunks);
        assert_eq!(rows.len(), 50_000);
        assert_eq!(rows[49_999], vec!["a49999", "true", "k,49999"]);
    }

    #[test]
    fn a_malformed_file_is_an_error() {
        let mut reader = ResultRows::new();
        let bad = b"sf__Id\n\xff\xfe,true\n";
        let result = reader
            .push(bad, |_| Ok(()), |e| e)
            .and_then(|()| reader.finish(|_| Ok(()), |e| e));
        assert!(result.is_err(), "invalid UTF-8 must not pass as a row");
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_rows_of_the_whole_file(
            cells in proptest::collection::vec(
                proptest::collection::vec("[a-z\",\n ]{0,6}", 3), 0..40),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
        ) {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(["sf__Id", "sf__Created", "Key"]).unwrap();
            for row in &cells {
                writer.write_record(row).unwrap();
            }
            let file = writer.into_inner().unwrap();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (file.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for p in points {
                chunks.push(&file[from..p]);
                from = p;
            }
            chunks.push(&file[from..]);
            let whole = rows_of(&[&file]);
            prop_assert_eq!(rows_of(&chunks), whole.clone());
            prop_assert_eq!(whole, cells);
        }
    }
}

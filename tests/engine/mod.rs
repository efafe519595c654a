//! Engine tests: each part of the sync engine against real SQLite / PostgreSQL and the
//! Salesforce emulator over HTTP.

mod consent;
mod delta;
mod identity;
mod metrics;
mod ownership;
mod routing;
mod salesforce_client;
mod store;
mod sync;

/// The emulator is for tests and dry runs: no engine module may depend on it.
#[test]
fn engine_code_never_imports_the_emulator() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![
        src.join("config.rs"),
        src.join("salesforce_fields.rs"),
        src.join("metrics.rs"),
    ];
    for dir in ["sync", "salesforce", "store", "mapping", "shopify", "cli"] {
        walk(&src.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found the engine sources");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("emulator::"),
            "{} imports the emulator",
            file.display()
        );
    }
}

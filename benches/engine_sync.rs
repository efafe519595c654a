//! Benchmark: the whole bulk sync of a generated store against the Salesforce emulator.
//!
//! ```text
//! cargo bench --bench engine_sync                 # 100k customers, 300k orders, ~900k line items
//! cargo bench --bench engine_sync -- --quick      # 10k / 30k / ~90k
//! cargo bench --bench engine_sync -- --customers N --orders M
//! cargo bench --bench engine_sync -- --emulator PATH  # another build's emulator binary
//! ```
//!
//! The emulator runs as its own process (`shopforce emulator salesforce`, instant mode), so
//! the peak RSS reported is the engine's alone. The engine runs in this process with an
//! embedded SQLite state store. Reported: records written per second end to end (JSONL read
//! to results stored), peak RSS, and Salesforce API calls against the minimum Bulk API 2.0
//! needs (per job: create, upload, close, one status poll, the successful results; the
//! failed results only for a job with failures, of which there are none here; plus the
//! standard price book query; the OAuth login is not an API call). Exits non-zero if any
//! record fails.

use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use shopforce::mapping::build::{AccountModel, MappingContext};
use shopforce::salesforce::{PollBackoff, SalesforceClient, SalesforceConfig};
use shopforce::shopify::generate::{StoreShape, generate};
use shopforce::store::Store;
use shopforce::sync::{SyncOptions, run_sync};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CONSUMER_KEY: &str = "3MVG9bench.consumer.key";
const USERNAME: &str = "integration@bench.example";

struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `/proc/<pid>/status` field in kB (`pid` may be `self`).
fn status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Field `n` of `/proc/<pid>/stat` counted from the first after the command name (which is
/// in parentheses and may hold spaces): `n` = 0 is field 3 of the line. 0 if unreadable.
fn stat_field(pid: &str, n: usize) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .nth(n)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds a process has used (user, system), from `/proc/<pid>/stat` (clock ticks
/// of 1/100 s, as Linux reports them to user space).
fn cpu_seconds(pid: &str) -> (f64, f64) {
    // utime and stime are fields 14 and 15 of the line.
    (
        stat_field(pid, 11) as f64 / 100.0,
        stat_field(pid, 12) as f64 / 100.0,
    )
}

/// Minor page faults a process has taken (`/proc/<pid>/stat` field 10): fresh memory
/// touched for the first time, which costs kernel time to clear. Unlike seconds, the count
/// does not depend on how busy the machine is.
fn minor_faults(pid: &str) -> u64 {
    stat_field(pid, 7)
}

/// CPU seconds (user + system) of this process's threads, summed by thread name.
fn thread_cpu() -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let name =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap_or_default();
        let (user, system) = cpu_seconds(&format!("self/task/{tid}"));
        *by_name.entry(name.trim().to_string()).or_insert(0.0) += user + system;
    }
    by_name
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench engine_sync: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Res<bool> {
    // As the shopforce binary does.
    shopforce::store::keep_c_heap();
    if std::env::var_os("RUST_LOG").is_some() {
        shopforce::cli::engine::init_logging(shopforce::config::LogFormat::Text);
    }
    let mut shape = StoreShape {
        customers: 100_000,
        orders: 300_000,
        max_line_items: 5,
        products: 2_000,
        companies: 200,
        currency: "USD",
        seed: 42,
        ..Default::default()
    };
    // The emulator binary this build made; `--emulator PATH` runs another (comparing two
    // builds of the emulator against one engine).
    let mut emulator_bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_shopforce"));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => {
                shape.customers = 10_000;
                shape.orders = 30_000;
                shape.companies = 20;
            }
            "--customers" => shape.customers = args.next().ok_or("--customers N")?.parse()?,
            "--orders" => shape.orders = args.next().ok_or("--orders N")?.parse()?,
            "--emulator" => emulator_bin = args.next().ok_or("--emulator PATH")?.into(),
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    // SHOPFORCE_BENCH_KEEP=1 keeps the export, the state store and the emulator's data.
    let mut guard = Some(tempfile::tempdir()?);
    let root = guard
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .ok_or("no temp dir")?;
    if std::env::var_os("SHOPFORCE_BENCH_KEEP").is_some() {
        let _ = guard.take().map(tempfile::TempDir::keep);
        println!("keeping {}", root.display());
    }
    let dir = root.as_path();
    let source = dir.join("export");
    let started = Instant::now();
    let generated = generate(&source, &shape)?;
    let mut jsonl_bytes = 0;
    for entry in std::fs::read_dir(&source)? {
        let path = entry?.path();
        // Written back to disk now, so the kernel's writeback of 1 GB of fresh pages does not
        // compete with the timed run.
        let file = std::fs::File::open(&path)?;
        file.sync_all()?;
        jsonl_bytes += file.metadata()?.len();
    }
    println!(
        "generated {} customers, {} companies ({} locations), {} orders, {} line items: {:.1} MB of JSONL in {:.1} s",
        generated.customers,
        generated.companies,
        generated.locations,
        generated.orders,
        generated.line_items,
        jsonl_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // The emulator, as its own process.
    let ready = dir.join("ready");
    let data = dir.join("emulator");
    let child = Command::new(&emulator_bin)
        .args([
            "emulator",
            "salesforce",
            "--listen",
            "127.0.0.1:0",
            "--consumer-key",
            CONSUMER_KEY,
            "--username",
            USERNAME,
            "--sfdx",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/sfdx"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let emulator_pid = child.id().to_string();
    let _emulator = Emulator(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && !text.trim().is_empty()
        {
            break text.trim().to_string();
        }
        if Instant::now() > deadline {
            return Err("the emulator did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let key = std::fs::read_dir(&data)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("private-key"))
        })
        .ok_or("no development key in the emulator's data dir")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let http = reqwest::Client::new();
        let mut config = SalesforceConfig::with_key_file(&base, CONSUMER_KEY, USERNAME, &key)?;
        config.requests_per_second = std::num::NonZeroU32::new(500).ok_or("rps")?;
        config.poll = PollBackoff {
            initial: Duration::from_millis(100),
            factor: 1.5,
            max: Duration::from_secs(2),
            jitter: true,
        };
        let client = SalesforceClient::new(config)?;
        let store = Store::connect(&format!("sqlite:{}", dir.join("state.db").display())).await?;
        let rss_before = status_kb("self", "VmRSS:");
        let cpu_before = cpu_seconds("self");
        let threads_before = thread_cpu();
        let emulator_cpu_before = cpu_seconds(&emulator_pid);
        let faults_before = minor_faults("self");
        let emulator_faults_before = minor_faults(&emulator_pid);
        let t0 = Instant::now();
        client.login().await?;
        let pricebook = client.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true").await?;
        let ctx = MappingContext {
            shop: "bench.myshopify.com".into(),
            org_currency: "USD".into(),
            standard_pricebook_id: pricebook[0]["Id"].as_str().ok_or("no price book")?.to_string(),
            account_model: AccountModel::PerCustomer,
            person_record_type_id: None,
        };
        let options = SyncOptions {
            source_dir: source.clone(),
            dry_run: None,
            full: false,
            work_dir: dir.join("work"),
            part_size: 100_000_000,
            max_concurrent_jobs: 4,
            max_row_retries: 3,
            ownership: Default::default(),
            metrics: Default::default(),
            as_of: None,
            identity: None,
            owner_routing: None,
        };
        let report = run_sync(Some(&client), &store, &ctx, &options).await?;
        let elapsed = t0.elapsed();
        let cpu_after = cpu_seconds("self");
        let threads_after = thread_cpu();
        let emulator_cpu_after = cpu_seconds(&emulator_pid);
        let faults = minor_faults("self") - faults_before;
        let emulator_faults = minor_faults(&emulator_pid) - emulator_faults_before;
        let total = report.total();
        let written = total.jobs.created + total.jobs.updated;
        let stats: serde_json::Value = http.get(format!("{base}/__admin/stats")).send().await?.json().await?;
        let api_calls = stats["apiUsage"]["used"].as_u64().unwrap_or(0);
        let jobs = total.jobs.jobs;
        let minimum = jobs * 5 + 1;
        let peak = status_kb("self", "VmHWM:");
        let emulator_peak = status_kb(&emulator_pid, "VmHWM:");
        println!();
        println!("{:<18} {:>9} {:>9} {:>6}", "target", "written", "failed", "jobs");
        for (name, t) in &report.targets {
            println!("{:<18} {:>9} {:>9} {:>6}", name, t.jobs.created + t.jobs.updated, t.jobs.dead_lettered + t.held, t.jobs.jobs);
        }
        println!();
        println!("records written      {written}");
        println!("end to end           {:.2} s", elapsed.as_secs_f64());
        println!("throughput           {:.0} records/s (target ≥ 100,000)", written as f64 / elapsed.as_secs_f64());
        println!(
            "engine CPU           {:.1} s user, {:.1} s system (the emulator's not included)",
            cpu_after.0 - cpu_before.0,
            cpu_after.1 - cpu_before.1
        );
        println!(
            "emulator CPU         {:.1} s user, {:.1} s system",
            emulator_cpu_after.0 - emulator_cpu_before.0,
            emulator_cpu_after.1 - emulator_cpu_before.1
        );
        let by_thread: Vec<String> = threads_after
            .iter()
            .map(|(name, after)| format!("{name} {:.1} s", after - threads_before.get(name).unwrap_or(&0.0)))
            .collect();
        println!("engine CPU by thread {}", by_thread.join(", "));
        println!(
            "page faults          engine {faults} ({:.0} MB of fresh pages), emulator {emulator_faults}",
            faults as f64 * 4096.0 / 1e6
        );
        println!("peak RSS (emulator)  {} MB", emulator_peak / 1024);
        println!("peak RSS (engine)    {} MB (before the run {} MB; target ≤ 200 MB)", peak / 1024, rss_before / 1024);
        println!(
            "Salesforce API calls {api_calls} for {jobs} jobs; minimum {minimum} (5 per job + price book query): {:+.1}%",
            (api_calls as f64 / minimum as f64 - 1.0) * 100.0
        );
        // A second run: nothing changed, nothing is sent.
        let t1 = Instant::now();
        let again = run_sync(Some(&client), &store, &ctx, &options).await?;
        println!(
            "rerun (no changes)   {:.2} s, {} uploaded, {} unchanged",
            t1.elapsed().as_secs_f64(),
            again.total().jobs.uploaded,
            again.total().unchanged
        );
        let failed = total.jobs.dead_lettered + total.held + report.scan.unmappable + report.scan.bad_lines;
        println!(
            "bench engine_sync: {written} records, {:.0} records/s, peak RSS {} MB, {api_calls} API calls (minimum {minimum}), {failed} failed",
            written as f64 / elapsed.as_secs_f64(),
            peak / 1024
        );
        store.close().await;
        Ok::<bool, Box<dyn std::error::Error>>(failed == 0)
    })
}

//! Rebuild when a migration is added: `sqlx::migrate!` embeds `migrations/` at compile time, and
//! a new file alone would not otherwise trigger recompilation.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

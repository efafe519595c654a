//! Starting and stopping the emulator.

use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;

use super::http::router;
use super::state::{EmulatorConfig, EmulatorState};
use crate::emulator::serve::{self, Serving};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
}

/// A running emulator. Drop it or call [`RunningEmulator::shutdown`] to stop.
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub local_addr: SocketAddr,
    state: Arc<EmulatorState>,
    server: Serving,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.base_url)
            .field("shops", &self.shop_domains())
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The shared state (tests inspect it; the admin API is the public way).
    pub fn state(&self) -> &Arc<EmulatorState> {
        &self.state
    }

    /// The first (or only) shop's domain.
    pub fn shop_domain(&self) -> &str {
        self.state.shops[0].domain()
    }

    /// Every shop's domain, in order.
    pub fn shop_domains(&self) -> Vec<String> {
        self.state
            .shops
            .iter()
            .map(|s| s.domain().to_string())
            .collect()
    }

    /// The access token the emulator accepts.
    pub fn access_token(&self) -> &str {
        self.state.config.access_token.expose_secret()
    }

    /// What stands in for `https://{shop}` (a client appends `/admin/api/…`).
    pub fn shop_url(&self, domain: &str) -> String {
        format!("{}/shops/{domain}", self.base_url)
    }

    /// The GraphQL endpoint of a shop for an API version.
    pub fn graphql_url(&self, domain: &str, version: &str) -> String {
        format!("{}/admin/api/{version}/graphql.json", self.shop_url(domain))
    }

    /// Stops serving, stops webhook retries, removes the result files it created.
    pub async fn shutdown(mut self) {
        self.stop_now().await;
    }

    async fn stop_now(&mut self) {
        self.state.webhooks.shutdown();
        self.server.stop().await;
        self.end_bulk_operations();
    }

    /// Cancels running bulk operations and removes the result files the emulator created.
    fn end_bulk_operations(&self) {
        for shop in &self.state.shops {
            if let Ok(ops) = shop.bulk.lock() {
                for op in ops.iter() {
                    op.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        if self.state.owns_results_dir {
            let _ = std::fs::remove_dir_all(&self.state.results_dir);
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.state.webhooks.shutdown();
        self.server.signal_stop();
        self.end_bulk_operations();
    }
}

/// Binds `addr` (port 0 picks a free port) and serves until shut down.
pub async fn start(
    config: EmulatorConfig,
    addr: SocketAddr,
) -> Result<RunningEmulator, EmulatorError> {
    let serve::Bound {
        listener,
        local_addr,
        base_url,
    } = serve::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let state =
        Arc::new(EmulatorState::new(config, base_url.clone()).map_err(EmulatorError::Setup)?);
    let app = router(Arc::clone(&state));
    let server = serve::spawn(listener, app, "Shopify");
    Ok(RunningEmulator {
        base_url,
        local_addr,
        state,
        server,
    })
}

//! Starting and stopping the emulator: bind, serve, snapshot on shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::http::router;
use super::org::OrgSnapshot;
use super::state::{EmulatorConfig, EmulatorState};
use crate::emulator::serve::{self, Serving};

/// Why the emulator could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("cannot read the org snapshot {path}: {reason}")]
    LoadState { path: String, reason: String },
    #[error("cannot write the org snapshot {path}: {reason}")]
    SaveState { path: String, reason: String },
}

/// A running emulator. Drop it or call [`RunningEmulator::shutdown`] to stop.
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub local_addr: SocketAddr,
    state: Arc<EmulatorState>,
    server: Serving,
}

impl RunningEmulator {
    /// The shared state (tests inspect it; the admin API is the public way).
    pub fn state(&self) -> &Arc<EmulatorState> {
        &self.state
    }

    /// Stops serving, waits for in-flight requests, writes the snapshot if configured.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        self.server.stop().await;
        if let Some(path) = &self.state.config.state_file {
            save_snapshot(&self.state, path)?;
        }
        Ok(())
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.server.signal_stop();
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
    let state = EmulatorState::new(config, base_url.clone()).map_err(EmulatorError::Setup)?;
    if let Some(path) = state.config.state_file.clone()
        && path.exists()
    {
        load_snapshot(&state, &path)?;
    }
    let state = Arc::new(state);
    let app = router(Arc::clone(&state));
    let server = serve::spawn(listener, app, "Salesforce");
    Ok(RunningEmulator {
        base_url,
        local_addr,
        state,
        server,
    })
}

fn load_snapshot(state: &EmulatorState, path: &Path) -> Result<(), EmulatorError> {
    let err = |reason: String| EmulatorError::LoadState {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let snapshot: OrgSnapshot = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
    let mut org = state
        .org
        .lock()
        .map_err(|_| err("state lock poisoned".into()))?;
    org.restore(snapshot);
    let _ = Utc::now();
    Ok(())
}

/// Writes the org to `path` atomically (temporary file, then rename).
pub fn save_snapshot(state: &EmulatorState, path: &Path) -> Result<(), EmulatorError> {
    let err = |reason: String| EmulatorError::SaveState {
        path: path.display().to_string(),
        reason,
    };
    let snapshot = {
        let org = state
            .org
            .lock()
            .map_err(|_| err("state lock poisoned".into()))?;
        org.snapshot()
    };
    let bytes = serde_json::to_vec(&snapshot).map_err(|e| err(e.to_string()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
    Ok(())
}

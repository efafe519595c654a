//! Serving an emulator's router over HTTP: binding, TCP_NODELAY on every connection, graceful
//! shutdown. Both emulators' `server` modules start through here.

use std::net::SocketAddr;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A bound listener and the URL clients reach it at.
pub struct Bound {
    pub listener: TcpListener,
    pub local_addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, no trailing slash (an unspecified address is reached over
    /// loopback).
    pub base_url: String,
}

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    Ok(Bound {
        listener,
        local_addr,
        base_url: base_url(local_addr),
    })
}

fn base_url(local_addr: SocketAddr) -> String {
    let ip = local_addr.ip();
    if ip.is_unspecified() {
        format!("http://127.0.0.1:{}", local_addr.port())
    } else if local_addr.is_ipv6() {
        format!("http://[{ip}]:{}", local_addr.port())
    } else {
        format!("http://{ip}:{}", local_addr.port())
    }
}

/// A router being served on its own task until [`Serving::stop`].
pub struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Serves `app` on `listener` on a new task. `name` says which emulator in the error log.
pub fn spawn(listener: TcpListener, app: Router, name: &'static str) -> Serving {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Small responses go out at once: without TCP_NODELAY a streamed response's last
        // chunk waits for the client's delayed ACK (40 ms a download on Linux).
        let listener = listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY not set on an emulator connection");
            }
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "{name} emulator stopped with an error.");
        }
    });
    Serving {
        stop: Some(stop),
        task: Some(task),
    }
}

impl Serving {
    /// Stops accepting connections; requests in flight finish on their own (what a `Drop`
    /// can do).
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops accepting connections and waits for the requests in flight.
    pub async fn stop(&mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_reach_the_bound_address() {
        let url = |a: &str| base_url(a.parse().unwrap());
        assert_eq!(url("127.0.0.1:8443"), "http://127.0.0.1:8443");
        assert_eq!(url("0.0.0.0:80"), "http://127.0.0.1:80");
        assert_eq!(url("[::]:80"), "http://127.0.0.1:80");
        assert_eq!(url("[::1]:80"), "http://[::1]:80");
    }

    #[tokio::test]
    async fn a_stopped_server_refuses_new_connections() {
        let bound = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let mut serving = spawn(bound.listener, app, "Test");
        let body = reqwest::get(&bound.base_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "ok");
        serving.stop().await;
        assert!(
            tokio::net::TcpStream::connect(bound.local_addr)
                .await
                .is_err()
        );
    }
}

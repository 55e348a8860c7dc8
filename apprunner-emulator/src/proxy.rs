//! The stable address of a service: a TCP proxy on the port its `ServiceUrl`
//! names, forwarding each connection to whichever instance serves now.
//! Switching instances is one atomic store, so the URL never changes and
//! never answers from an instance that has not passed its health check.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where a service's URL sends a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// No instance (paused, or never healthy): the connection is closed.
    Closed,
    /// A running service whose instance is starting again after the
    /// emulator restarted: on App Runner a RUNNING service answers, so the
    /// connection waits (up to [`HOLD`]) for the instance instead of failing.
    Starting,
    /// The serving instance's port.
    To(u16),
}

/// How long a connection waits for a restarting instance.
const HOLD: Duration = Duration::from_secs(180);

pub(crate) struct Proxy {
    pub port: u16,
    route: watch::Sender<Route>,
    accepting: JoinHandle<()>,
}

impl Proxy {
    /// A new service's URL, on a free port.
    pub fn bind() -> std::io::Result<Proxy> {
        Self::bind_on(0)
    }

    /// A URL on `port` (a restored service's, which keeps its port).
    pub fn bind_on(port: u16) -> std::io::Result<Proxy> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let listener = TcpListener::from_std(listener)?;
        let (route, routed) = watch::channel(Route::Closed);
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut routed = routed.clone();
                tokio::spawn(async move {
                    let Some(port) = serving_port(&mut routed).await else {
                        return; // dropped: the client sees the connection close
                    };
                    if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        Ok(Proxy {
            port,
            route,
            accepting,
        })
    }

    /// New connections go to `port` (or nowhere) from now on.
    pub fn route_to(&self, port: Option<u16>) {
        self.route
            .send_replace(port.map_or(Route::Closed, Route::To));
    }

    /// New connections wait for [`Proxy::route_to`] (an instance starting
    /// again after a restart).
    pub fn hold(&self) {
        self.route.send_replace(Route::Starting);
    }
}

/// The port a new connection goes to, waiting while an instance starts.
async fn serving_port(routed: &mut watch::Receiver<Route>) -> Option<u16> {
    let settled = routed.wait_for(|route| *route != Route::Starting);
    match tokio::time::timeout(HOLD, settled).await {
        Ok(Ok(route)) => match *route {
            Route::To(port) => Some(port),
            _ => None,
        },
        _ => None,
    }
}

impl Drop for Proxy {
    /// The listener closes: the URL stops answering.
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

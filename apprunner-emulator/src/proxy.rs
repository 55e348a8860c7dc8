//! The stable address of a service: a TCP proxy on the port its `ServiceUrl`
//! names, forwarding each connection to whichever instance serves now.
//! Switching instances is one atomic store, so the URL never changes and
//! never answers from an instance that has not passed its health check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) struct Proxy {
    pub port: u16,
    /// The serving instance's port; 0 while none serves (connections close).
    target: Arc<AtomicU16>,
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
        let target = Arc::new(AtomicU16::new(0));
        let routed = target.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let port = routed.load(Ordering::SeqCst);
                if port == 0 {
                    continue; // dropped: the client sees the connection close
                }
                tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        Ok(Proxy {
            port,
            target,
            accepting,
        })
    }

    /// New connections go to `port` (or nowhere) from now on.
    pub fn route_to(&self, port: Option<u16>) {
        self.target.store(port.unwrap_or(0), Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    /// The listener closes: the URL stops answering.
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

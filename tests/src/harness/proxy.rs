//! A TCP proxy in front of the broker whose connections a test can sever
//! mid-stream, as a network failure or a broker restart would.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// A running proxy.
pub struct ChaosProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl ChaosProxy {
    /// Proxies a new local port to `target` (host:port).
    pub async fn start(target: String) -> ChaosProxy {
        Self::start_at("127.0.0.1:0".parse().expect("an address"), target).await
    }

    /// Proxies `address` to `target`: a broker that appears where a client
    /// has been failing to connect, or comes back after [`Drop`] closed it.
    pub async fn start_at(address: SocketAddr, target: String) -> ChaosProxy {
        let listener = TcpListener::bind(address).await.expect("binding the proxy");
        let address = listener.local_addr().expect("proxy address");
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = connections.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().await.push(pipe);
            }
        });
        ChaosProxy {
            address,
            connections,
            acceptor,
        }
    }

    /// An AMQP URL through the proxy, for `amqp_url`'s credentials and vhost.
    pub fn amqp_url(&self, amqp_url: &str) -> String {
        let (scheme_and_credentials, rest) = amqp_url
            .rsplit_once('@')
            .unwrap_or(("amqp://guest:guest", amqp_url));
        let vhost = rest
            .split_once('/')
            .map(|(_, vhost)| vhost)
            .unwrap_or("%2f");
        format!("{scheme_and_credentials}@{}/{vhost}", self.address)
    }

    /// Severs every open connection; new ones are still accepted.
    pub async fn sever_all(&self) -> usize {
        let mut connections = self.connections.lock().await;
        let severed = connections
            .iter()
            .filter(|pipe| !pipe.is_finished())
            .count();
        for pipe in connections.drain(..) {
            pipe.abort();
        }
        severed
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        if let Ok(mut connections) = self.connections.try_lock() {
            for pipe in connections.drain(..) {
                pipe.abort();
            }
        }
    }
}

//! Held requests ([`MockServer::hold_next`](crate::MockServer::hold_next)):
//! a request that, once received, recorded and counted, waits for the test to
//! let it go, so tests can prove what happens while it is in flight without
//! sleeping.

use tokio::sync::{oneshot, watch};

use crate::Endpoint;

/// The server's half: taken by the next request to the endpoint.
#[derive(Debug)]
pub(crate) struct Hold {
    arrived: watch::Sender<bool>,
    release: oneshot::Receiver<()>,
}

impl Hold {
    /// A hold on the next request to `endpoint`, and the test's handle on it.
    pub(crate) fn new(endpoint: Endpoint) -> (Hold, HeldRequest) {
        let (arrived_tx, arrived_rx) = watch::channel(false);
        let (release_tx, release_rx) = oneshot::channel();
        let hold = Hold { arrived: arrived_tx, release: release_rx };
        let held = HeldRequest { endpoint, arrived: arrived_rx, release: release_tx };
        (hold, held)
    }

    /// Announces the arrival, then waits until the [`HeldRequest`] is
    /// released or dropped.
    pub(crate) async fn wait(self) {
        self.arrived.send_replace(true);
        // `Err` means the handle was dropped: released too.
        let _ = self.release.await;
    }
}

/// The test's handle on a request held by
/// [`MockServer::hold_next`](crate::MockServer::hold_next).
///
/// The held request has been received, recorded and counted, and waits,
/// before any other work (no fault applied, nothing validated or rotated),
/// until [`release`](HeldRequest::release) is called or this handle is
/// dropped.
#[derive(Debug)]
#[must_use = "the request is released as soon as the HeldRequest is dropped"]
pub struct HeldRequest {
    endpoint: Endpoint,
    arrived: watch::Receiver<bool>,
    release: oneshot::Sender<()>,
}

impl HeldRequest {
    /// The endpoint whose next request is held.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// Resolves once the held request has arrived and is waiting; at once if
    /// it already has. It stays pending while no request to the endpoint
    /// arrives: bound it with a timeout if the request may never come.
    ///
    /// # Panics
    ///
    /// If the server stopped before the request arrived.
    pub async fn arrived(&self) {
        let mut arrived = self.arrived.clone();
        if arrived.wait_for(|arrived| *arrived).await.is_err() {
            panic!("the sandbox stopped before the held {:?} request arrived", self.endpoint);
        }
    }

    /// Lets the held request go on (it is then handled normally, faults
    /// included). Releasing before the request arrived means it will not wait.
    pub fn release(self) {
        // `Err` means the request is gone (server stopped, client hung up).
        let _ = self.release.send(());
    }
}

//! The HTTP server: an accept loop over hyper's HTTP/1.1 connections, because `axum::serve`
//! has no timeouts and no bound on connections, and a client that never finishes its
//! headers would hold a connection (and a file descriptor) for ever.
//!
//! - At most `ConnectionSettings::max` connections are served at once; at the limit no
//!   more are accepted until one closes (they wait in the listen backlog), so the process
//!   never runs out of file descriptors. The limit is lowered at start to fit the
//!   open-file limit.
//! - A client has `ConnectionSettings::header_timeout` to send a request's headers, on a
//!   new connection and between the requests of a kept-alive one; then hyper closes it. It
//!   has as long again for the body ([`BodyTimedOut`], answered 408).
//! - TCP keep-alive on every connection, so a peer that vanished is noticed.
//! - HTTP/1.1 only: cleartext HTTP/2 (prior knowledge) has no header or idle timeout in
//!   hyper, browsers never speak it, and proxies speak HTTP/1.1 to their backends.
//!
//! Shutdown: accepting stops at once, idle connections are closed, and requests in flight
//! finish (change streams are ended by the caller first); `RunningService::shutdown`
//! bounds the wait with the shutdown grace.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::config::ConnectionSettings;

/// Descriptors kept for everything but client connections: the database (SQLite's three
/// files, the PostgreSQL pool and its listener), the pushes in flight, the identity
/// provider, logs.
const RESERVED_DESCRIPTORS: u64 = 256;
/// Largest read buffer of one connection: room for a request's headers (a 16 KiB JWT
/// included); a body streams through it.
const MAX_BUFFER_BYTES: usize = 64 * 1024;
/// TCP keep-alive: first probe after this much silence, then one per interval.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// How many connections to serve at once: `wanted`, lowered to what the open-file soft
/// limit leaves once [`RESERVED_DESCRIPTORS`] are set aside.
pub fn connection_limit(wanted: usize) -> usize {
    let soft = rlimit::Resource::NOFILE
        .get()
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let room =
        usize::try_from(soft.saturating_sub(RESERVED_DESCRIPTORS).max(16)).unwrap_or(usize::MAX);
    if wanted > room {
        tracing::warn!(
            wanted,
            serving = room,
            open_file_limit = soft,
            "USERNOTIFY_MAX_CONNECTIONS is above what the open-file limit allows: lowered (raise the hard limit, e.g. LimitNOFILE= in systemd)"
        );
        room
    } else {
        wanted
    }
}

/// Serves `app` on `listener` until `stop` turns true, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &ConnectionSettings,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(connection_limit(settings.max)));
    let body_timeout = settings.header_timeout;
    let app = app.layer(axum::middleware::map_request(
        move |request: Request| async move { with_body_deadline(request, body_timeout) },
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_BUFFER_BYTES);
    let graceful = GracefulShutdown::new();
    let stopping = stopped(stop);
    tokio::pin!(stopping);
    loop {
        // A free slot first: at the limit, new connections wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.map_err(io::Error::other)?,
            () = &mut stopping => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    pause_after(&error).await;
                    continue;
                }
            },
            () = &mut stopping => break,
        };
        tune(&stream);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that timed out or went away mid-request is not the service's error.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves once `stop` is true, or its sender is gone.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// TCP_NODELAY (answers are small and written whole) and TCP keep-alive.
fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    if let Err(error) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%error, "TCP keep-alive not set");
    }
}

/// After a failed accept: nothing for a connection the client already dropped; a pause
/// when the process is out of descriptors (or memory), so the loop does not spin.
async fn pause_after(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Gives a request's body `timeout` from now to arrive whole; a body that is already
/// complete (none at all, as on a GET) is left as it is.
fn with_body_deadline(request: Request, timeout: Duration) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    let deadline = Box::pin(tokio::time::sleep(timeout));
    request.map(|inner| Body::new(DeadlineBody { inner, deadline }))
}

/// The body did not arrive before its deadline.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// A body that fails with [`BodyTimedOut`] once its deadline passes, however slowly or
/// steadily the client trickles it in.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

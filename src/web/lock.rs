//! One change to the visible notifications at a time.
//!
//! Every handler reads what is shown, decides, then shows: two pushes of one group handled
//! at once would both read a count of one. Events of a worker share one thread, so a chain
//! of promises is enough to run them one after another.

use core::future::Future;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

use super::task::{settled, WorkerCell};

/// The last queued call's gate; `None` before the first call.
static TAIL: WorkerCell<Promise> = WorkerCell::new();

/// Runs `work` after every earlier call has finished.
pub async fn serialized<T>(work: impl Future<Output = T>) -> T {
    let mut release: Option<Function> = None;
    let gate = Promise::new(&mut |resolve, _reject| release = Some(resolve));
    let previous = TAIL.0.replace(Some(gate));
    if let Some(previous) = previous {
        // A rejected predecessor must not block the queue; our gates never reject anyway.
        let _ = settled(previous).await;
    }
    let output = work.await;
    if let Some(release) = release {
        let _ = release.call0(&JsValue::UNDEFINED);
    }
    output
}

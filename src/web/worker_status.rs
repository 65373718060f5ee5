//! Whether the app's service worker runs, as a page can await it: the page asks the worker
//! (`{type: "usernotify-status"}`, with a port) and the worker's shell answers once its wasm
//! has loaded, or with why it cannot (`www/sw.js`), so a worker whose module never loads
//! still answers. A worker that is still installing is asked too, and waited for until it is
//! active; one that fails to install turns redundant. Nothing here waits for ever:
//! `navigator.serviceWorker.ready` does, when the install failed.

use alloc::string::String;

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageChannel, MessageEvent, ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState,
    Window,
};

use super::js::{error, sleep, within};
use super::subscription::page_container;
use crate::core::json::JsonRead;

/// Why the page's worker does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerProblem {
    /// The page cannot use service workers at all (not https or localhost; some private modes).
    NoServiceWorkers,
    /// No worker is registered for the page (or one failed before the page could ask it).
    NotRegistered,
    /// The worker is there but cannot run: its own reason (e.g. its wasm is not served).
    Failed(String),
}

pub const NO_SERVICE_WORKERS: &str =
    "this page cannot use service workers: serve it over https (or \
     from localhost); some browsers turn them off in private windows";
pub const NO_WORKER: &str =
    "no service worker is registered for this page: register usernotify-sw.js \
     first (navigator.serviceWorker.register('/usernotify-sw.js', {type: 'module'})); if you \
     did, it failed to install, and the worker's console says why";
const INSTALL_FAILED: &str =
    "it failed to install (it turned redundant); the worker's console says why";
const SILENT: &str = "it did not answer within 30 s; the worker's console may say why";

/// How long the worker has to answer, and to activate once installed, in ms.
const ANSWER_WITHIN: i32 = 30_000;
/// How often a worker's state is looked at while waiting for it.
const POLL_MS: i32 = 50;

impl WorkerProblem {
    /// As `workerReady()` and `show()` reject with it: `worker-failed`, saying why.
    pub fn rejection(&self) -> JsValue {
        error("worker-failed", &self.message())
    }

    pub fn message(&self) -> String {
        match self {
            WorkerProblem::NoServiceWorkers => String::from(NO_SERVICE_WORKERS),
            WorkerProblem::NotRegistered => String::from(NO_WORKER),
            WorkerProblem::Failed(reason) => {
                let mut text = String::from("the app's service worker cannot run: ");
                text.push_str(reason.strip_prefix("usernotify: ").unwrap_or(reason));
                text
            }
        }
    }
}

/// The page's registration once its worker is active and has loaded its wasm; else why not,
/// with the worker's own reason when it gave one.
pub async fn ready() -> Result<ServiceWorkerRegistration, WorkerProblem> {
    let container = page_container().ok_or(WorkerProblem::NoServiceWorkers)?;
    let mut saw_redundant = false;
    // A new worker that fails leaves the one before it (if any) to look at next.
    for _ in 0..4 {
        let registration = JsFuture::from(container.get_registration())
            .await
            .unwrap_or(JsValue::UNDEFINED);
        if !registration.is_object() {
            break;
        }
        let registration: ServiceWorkerRegistration = registration.unchecked_into();
        let newest = registration
            .installing()
            .or_else(|| registration.waiting())
            .or_else(|| registration.active());
        let Some(worker) = newest else {
            saw_redundant = true;
            break;
        };
        match ask(&worker).await {
            Answer::Failed(reason) => return Err(WorkerProblem::Failed(reason)),
            Answer::Redundant => {
                saw_redundant = true;
                continue;
            }
            Answer::Runs => {}
            Answer::Silent => return Err(WorkerProblem::Failed(String::from(SILENT))),
        }
        match activated(&worker).await {
            true => return Ok(registration),
            false => saw_redundant = true,
        }
    }
    // A worker that failed before it could be asked left its reason behind.
    if let Some(reason) = last_words().await {
        return Err(WorkerProblem::Failed(reason));
    }
    Err(match saw_redundant {
        true => WorkerProblem::Failed(String::from(INSTALL_FAILED)),
        false => WorkerProblem::NotRegistered,
    })
}

/// The reason the last install failed, as the worker's shell kept it (`www/sw.js`); the
/// next build to activate drops it with the other `usernotify-` caches.
async fn last_words() -> Option<String> {
    let window = js_sys::global().dyn_into::<Window>().ok()?;
    let caches = window.caches().ok()?;
    let key = window.location().origin().ok()? + "/usernotify-status";
    let found = JsFuture::from(caches.match_with_str(&key)).await.ok()?;
    let response = found.dyn_into::<web_sys::Response>().ok()?;
    let text = JsFuture::from(response.text().ok()?).await.ok()?;
    text.as_string().filter(|text| !text.is_empty())
}

enum Answer {
    Runs,
    Failed(String),
    Redundant,
    Silent,
}

/// Asks `worker` whether its module runs; it answers once it has tried to load it.
async fn ask(worker: &ServiceWorker) -> Answer {
    let Ok(channel) = MessageChannel::new() else {
        return Answer::Silent;
    };
    let reply = Promise::new(&mut |resolve, _reject| {
        channel.port1().set_onmessage(Some(&resolve));
    });
    let question = super::js::object(&crate::core::messages::status_question());
    if worker
        .post_message_with_transferable(&question, &js_sys::Array::of1(&channel.port2()))
        .is_err()
    {
        return Answer::Silent;
    }
    let mut waited = 0;
    let answer = loop {
        if let Ok(Some(event)) = within(&reply, POLL_MS).await {
            let data = event.unchecked_into::<MessageEvent>().data();
            break match data.member("ok").and_then(|ok| ok.as_bool()) {
                Some(false) => Answer::Failed(
                    data.member("reason")
                        .and_then(|reason| reason.as_string())
                        .unwrap_or_else(|| String::from(INSTALL_FAILED)),
                ),
                _ => Answer::Runs,
            };
        }
        // A worker that failed to install is gone before it could answer.
        if worker.state() == ServiceWorkerState::Redundant {
            break Answer::Redundant;
        }
        waited += POLL_MS;
        if waited >= ANSWER_WITHIN {
            break Answer::Silent;
        }
    };
    channel.port1().close();
    answer
}

/// Waits until `worker` is activated (true) or redundant (false), at most [`ANSWER_WITHIN`].
async fn activated(worker: &ServiceWorker) -> bool {
    let mut waited = 0;
    loop {
        match worker.state() {
            ServiceWorkerState::Activated => return true,
            ServiceWorkerState::Redundant => return false,
            _ if waited >= ANSWER_WITHIN => return false,
            _ => {}
        }
        sleep(POLL_MS).await;
        waited += POLL_MS;
    }
}

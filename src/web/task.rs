//! The smallest executor the page API needs, in place of wasm-bindgen-futures.
//!
//! Every future here awaits browser promises one at a time, so a task needs no waker and
//! no queue: it is polled when it starts, and again each time the one promise it awaits
//! settles. One JS function (a single Rust closure, made once) resumes any task; each
//! await binds it to the task and the outcome. wasm-bindgen-futures' queue, wakers and
//! per-await closures cost 2.0 KiB gzip more (measured when this replaced it).
//!
//! A failure while a task is resumed (a trap, or a browser call throwing through the
//! module) happens in a promise reaction; it is passed to `reportError`, so it shows as an
//! uncaught error with its stack, not as an unhandled rejection of nothing the app awaits.

use alloc::boxed::Box;
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll, Waker};

use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::js::{get, global};
use super::ModuleCell;

#[wasm_bindgen]
extern "C" {
    /// A promise, for the one call bound here.
    type Awaited;
    /// `promise.then(fulfilled, rejected)`.
    #[wasm_bindgen(method, js_name = then)]
    fn then_both(this: &Awaited, fulfilled: &JsValue, rejected: &JsValue) -> Awaited;
    /// `promise.catch(rejected)`.
    #[wasm_bindgen(method, js_name = catch)]
    fn or_else(this: &Awaited, rejected: &JsValue);

    /// The JS function that resumes tasks.
    type Resume;
    /// `resume.bind(null, task, ok)`.
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_task(this: &Resume, context: &JsValue, task: u32, ok: bool) -> JsValue;
}

struct Task {
    future: Pin<Box<dyn Future<Output = ()>>>,
    /// How the promise the task awaits settled, until its [`Settled`] takes it.
    outcome: Option<Result<JsValue, JsValue>>,
}

/// The task being polled; null between polls.
static CURRENT: ModuleCell<*mut Task> = ModuleCell::new();
/// `(task, ok, value) => resume`, made on first use.
static RESUME: ModuleCell<JsValue> = ModuleCell::new();

/// Runs `future` to completion: now until its first await, then as its promises settle.
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    let task = Box::into_raw(Box::new(Task {
        future: Box::pin(future),
        outcome: None,
    }));
    poll(task);
}

/// A promise of `future`'s result, for exports that return one.
pub fn promise_of(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    if let Some((resolve, reject)) = settle {
        spawn(async move {
            let _ = match future.await {
                Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
                Err(error) => reject.call1(&JsValue::UNDEFINED, &error),
            };
        });
    }
    promise
}

fn poll(task: *mut Task) {
    let outer = CURRENT.0.replace(Some(task));
    let mut context = Context::from_waker(Waker::noop());
    // SAFETY: `task` came from `Box::into_raw` in `spawn` and is freed below only once its
    // future completed; a completed task is never resumed, since its last await settled.
    let done = unsafe { (*task).future.as_mut().poll(&mut context).is_ready() };
    CURRENT.0.set(outer);
    if done {
        // SAFETY: as above; this is the only owner.
        drop(unsafe { Box::from_raw(task) });
    }
}

fn resume(task: u32, ok: bool, value: JsValue) {
    let task = task as usize as *mut Task;
    if task.is_null() {
        return;
    }
    // SAFETY: `task` was bound by `Settled::poll` of a live task that is now suspended on
    // this promise; each promise settles once, so it is resumed once per await.
    unsafe { (*task).outcome = Some(if ok { Ok(value) } else { Err(value) }) };
    poll(task);
}

fn resume_function() -> JsValue {
    let resume = RESUME
        .0
        .take()
        .unwrap_or_else(|| Closure::<dyn FnMut(u32, bool, JsValue)>::new(resume).into_js_value());
    RESUME.0.set(Some(resume.clone()));
    resume
}

/// How a promise settled: `Ok` with its value or `Err` with its reason.
pub struct Settled {
    promise: Option<Promise>,
}

/// Awaits `promise` inside a task started by [`spawn`] or [`promise_of`].
pub fn settled(promise: Promise) -> Settled {
    Settled {
        promise: Some(promise),
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<Self::Output> {
        let task = CURRENT.0.get().unwrap_or(ptr::null_mut());
        if task.is_null() {
            return Poll::Pending;
        }
        if let Some(promise) = self.promise.take() {
            let resume = resume_function();
            let resume = resume.unchecked_ref::<Resume>();
            let id = task as usize as u32;
            let fulfilled = resume.bind_task(&JsValue::NULL, id, true);
            let rejected = resume.bind_task(&JsValue::NULL, id, false);
            // A failure while resuming (a trap, or a browser call throwing through the
            // module) is reported as an uncaught error rather than left as an unhandled
            // rejection.
            promise
                .unchecked_ref::<Awaited>()
                .then_both(&fulfilled, &rejected)
                .or_else(&get(&global(), "reportError"));
            return Poll::Pending;
        }
        // SAFETY: `task` is the task being polled, alive for the whole poll.
        match unsafe { (*task).outcome.take() } {
            Some(outcome) => Poll::Ready(outcome),
            None => Poll::Pending,
        }
    }
}

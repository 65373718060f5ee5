//! The app service's REST API (CONTRACT §3), called with the user's bearer token through
//! gloo-net, from a page or from the worker alike.

use alloc::string::String;

use gloo_net::http::{Method, RequestBuilder};
use wasm_bindgen::JsValue;

use super::js::{for_pages, parse};
use crate::core::json::{push_int, JsonRead};

/// The app service at `url`, as the user of `token`.
pub struct Service {
    pub url: String,
    pub token: String,
}

/// Why a call to the service failed; `code` is the service's Graph error code, or one of
/// ours: `service-unreachable` (no answer at all), `service-error` (an answer that is not
/// Graph's error body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub code: String,
    pub message: String,
    /// The HTTP status; 0 when the service could not be reached.
    pub status: u16,
}

impl ServiceError {
    fn unreachable(url: &str) -> ServiceError {
        let mut message = String::from("could not reach the app service at ");
        message.push_str(url);
        message.push_str(for_pages(
            ": check the URL and that the service runs; a service on another origin must list \
             this page's origin in USERNOTIFY_CORS_ORIGINS",
        ));
        ServiceError {
            code: String::from("service-unreachable"),
            message,
            status: 0,
        }
    }

    /// Worth sending again later: the service could not be reached, or failed on its side.
    pub fn is_retryable(&self) -> bool {
        self.status == 0 || self.status == 429 || self.status >= 500
    }

    /// As the page API rejects with it: an `Error` named by its code.
    pub fn rejection(&self) -> JsValue {
        super::js::error(&self.code, &self.message)
    }
}

impl Service {
    /// One call with an optional JSON body; the answer's JSON (`undefined` for none). A
    /// refusal is the Graph error the service answered.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Result<JsValue, ServiceError> {
        let mut url = self.url.clone();
        url.push_str(path);
        self.call_url(method, &url, body).await
    }

    /// A `GET` of a link the service answered (`@odata.nextLink`), followed as given, but
    /// only on the service's own origin: the bearer token never goes anywhere else.
    pub async fn follow(&self, link: &str) -> Result<JsValue, ServiceError> {
        let origin = |url: &str| web_sys::Url::new(url).ok().map(|url| url.origin());
        if origin(link).is_none() || origin(link) != origin(&self.url) {
            let mut message = String::from("the app service at ");
            message.push_str(&self.url);
            message.push_str(for_pages(
                " answered a next page on another origin; it was not followed (the service \
                 needs USERNOTIFY_PUBLIC_URL set to the URL pages reach it at)",
            ));
            return Err(ServiceError {
                code: String::from("service-error"),
                message,
                status: 0,
            });
        }
        self.call_url(Method::GET, link, None).await
    }

    async fn call_url(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
    ) -> Result<JsValue, ServiceError> {
        let mut bearer = String::from("Bearer ");
        bearer.push_str(&self.token);
        let request = RequestBuilder::new(url)
            .method(method)
            .header("Authorization", &bearer);
        let request = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body),
            None => request.build(),
        };
        let response = match request {
            Ok(request) => request.send().await,
            Err(failure) => Err(failure),
        }
        .map_err(|_| ServiceError::unreachable(&self.url))?;
        let text = response.text().await.unwrap_or_default();
        let answer = parse(&text).unwrap_or(JsValue::UNDEFINED);
        if response.ok() {
            return Ok(answer);
        }
        // Graph's error body: {"error": {"code", "message"}}.
        let graph = answer.member("error");
        let text = |name: &str| graph.as_ref()?.member(name)?.as_string();
        // The message names the service and its status, then says what it said.
        let status = response.status();
        let mut message = String::from("the app service at ");
        message.push_str(&self.url);
        message.push_str(" answered ");
        push_int(&mut message, i64::from(status));
        message.push_str(": ");
        message.push_str(&text("message").unwrap_or_else(|| response.status_text()));
        Err(ServiceError {
            code: text("code").unwrap_or_else(|| String::from("service-error")),
            message,
            status,
        })
    }
}

impl Service {
    /// Opens a long-lived `GET` whose body the caller reads as it arrives (the change
    /// stream), with `Last-Event-ID` when given. A refusal is the Graph error the service
    /// answered.
    pub async fn open_stream(
        &self,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Result<gloo_net::http::Response, ServiceError> {
        let mut url = self.url.clone();
        url.push_str(path);
        let mut bearer = String::from("Bearer ");
        bearer.push_str(&self.token);
        let mut request = RequestBuilder::new(&url)
            .method(Method::GET)
            .header("Authorization", &bearer)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = match request.build() {
            Ok(request) => request.send().await,
            Err(failure) => Err(failure),
        }
        .map_err(|_| ServiceError::unreachable(&self.url))?;
        if response.ok() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let answer = parse(&text).unwrap_or(JsValue::UNDEFINED);
        let graph = answer.member("error");
        let code = graph
            .as_ref()
            .and_then(|graph| graph.member("code")?.as_string());
        Err(ServiceError {
            code: code.unwrap_or_else(|| String::from("service-error")),
            message: response.status_text(),
            status: response.status(),
        })
    }
}

/// `text` made safe as one path segment.
pub fn segment(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

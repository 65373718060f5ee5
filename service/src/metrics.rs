//! `GET /metrics`: the service's counters in the Prometheus text format (0.0.4), kept and
//! written by prometheus-client. Posts and deliveries are counted as they happen; the queue
//! and the subscriptions are read from the store when scraped.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The `Content-Type` of what [`Metrics::encode`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PostLabels {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// What the store says at scrape time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreGauges {
    pub queue_depth: u64,
    /// Age of the oldest queued delivery; 0 when the queue is empty.
    pub oldest_queued_ms: u64,
    pub subscriptions: u64,
}

/// Every metric the service exports. Shared (`Arc`) by the handlers and the worker.
pub struct Metrics {
    registry: Registry,
    posts: Family<PostLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    push_seconds: Histogram,
    queue_depth: Gauge,
    oldest_queued_seconds: Gauge<f64, AtomicU64>,
    subscriptions: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let posts = Family::<PostLabels, Counter>::default();
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        // 5 ms to about 10 s, doubling.
        let push_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        let queue_depth = Gauge::default();
        let oldest_queued_seconds = Gauge::<f64, AtomicU64>::default();
        let subscriptions = Gauge::default();
        let mut registry = Registry::with_prefix("usernotify");
        registry.register(
            "notification_posts",
            "Answers to POST /me/notifications, by HTTP status",
            posts.clone(),
        );
        registry.register(
            "deliveries",
            "Push attempts by outcome: delivered, retry, gave-up, subscription-gone, rejected, expired, unbuildable",
            deliveries.clone(),
        );
        registry.register(
            "push_duration_seconds",
            "Time a push service took to answer a push (answered or failed)",
            push_seconds.clone(),
        );
        registry.register(
            "delivery_queue_depth",
            "Deliveries queued (due or waiting to be retried)",
            queue_depth.clone(),
        );
        registry.register(
            "delivery_queue_oldest_age_seconds",
            "Age of the oldest queued delivery; 0 when the queue is empty",
            oldest_queued_seconds.clone(),
        );
        registry.register(
            "subscriptions",
            "Push subscriptions that can be pushed to (not reported gone)",
            subscriptions.clone(),
        );
        Metrics {
            registry,
            posts,
            deliveries,
            push_seconds,
            queue_depth,
            oldest_queued_seconds,
            subscriptions,
        }
    }

    /// Counts an answer to `POST /me/notifications`.
    pub fn post_answered(&self, status: u16) {
        self.posts.get_or_create(&PostLabels { status }).inc();
    }

    /// Counts the outcome of one push attempt (the worker's outcome names).
    pub fn delivery(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Records how long a push service took to answer.
    pub fn push_latency(&self, elapsed: Duration) {
        self.push_seconds.observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the store's gauges as given.
    pub fn encode(&self, gauges: StoreGauges) -> Result<String, std::fmt::Error> {
        self.queue_depth
            .set(i64::try_from(gauges.queue_depth).unwrap_or(i64::MAX));
        self.oldest_queued_seconds
            .set(gauges.oldest_queued_ms as f64 / 1000.0);
        self.subscriptions
            .set(i64::try_from(gauges.subscriptions).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_are_written_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.post_answered(201);
        metrics.post_answered(201);
        metrics.post_answered(400);
        metrics.delivery("delivered");
        metrics.push_latency(Duration::from_millis(30));
        let text = metrics
            .encode(StoreGauges {
                queue_depth: 3,
                oldest_queued_ms: 1500,
                subscriptions: 2,
            })
            .unwrap();
        for line in [
            "usernotify_notification_posts_total{status=\"201\"} 2",
            "usernotify_notification_posts_total{status=\"400\"} 1",
            "usernotify_deliveries_total{outcome=\"delivered\"} 1",
            "usernotify_push_duration_seconds_count 1",
            "usernotify_delivery_queue_depth 3",
            "usernotify_delivery_queue_oldest_age_seconds 1.5",
            "usernotify_subscriptions 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}

//! How this process's senders are shared out among users and push hosts.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::config::DeliverySettings;
use crate::deliveries::ClaimShares;

/// How many timeouts or refused connections in a row make a push host rest.
const STRIKES_BEFORE_REST: u32 = 3;
/// The first rest of a push host that keeps timing out; it doubles with each rest after it.
const FIRST_REST: Duration = Duration::from_secs(5);
/// The longest rest.
const LONGEST_REST: Duration = Duration::from_secs(300);

/// What this process's senders hold, so that every claim shares them out: pushes in flight
/// per user and per push host, and the push hosts resting after timeouts. A host that keeps
/// timing out rests, its deliveries waiting in the queue without holding a sender, and is
/// tried again after the rest (longer each time, until it answers).
#[derive(Debug, Default)]
pub struct Holdings {
    users: HashMap<String, usize>,
    hosts: HashMap<String, usize>,
    strikes: HashMap<String, Strikes>,
}

#[derive(Debug, Default)]
struct Strikes {
    /// Timeouts or refused connections in a row.
    count: u32,
    /// Rests so far, since the host last answered.
    rests: u32,
    resting_until: Option<tokio::time::Instant>,
}

impl Holdings {
    /// A push to `user` at `host` starts.
    pub fn take(&mut self, user: &str, host: &str) {
        *self.users.entry(user.to_owned()).or_default() += 1;
        *self.hosts.entry(host.to_owned()).or_default() += 1;
    }

    /// A push to `user` at `host` ended; `answered`: the host answered (any status), or
    /// `None` when the push never reached it (not built, a task that failed).
    pub fn give_back(
        &mut self,
        user: &str,
        host: &str,
        answered: Option<bool>,
        now: tokio::time::Instant,
    ) {
        for (map, key) in [(&mut self.users, user), (&mut self.hosts, host)] {
            if let Some(count) = map.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(key);
                }
            }
        }
        match answered {
            Some(true) => {
                self.strikes.remove(host);
            }
            Some(false) => {
                let strikes = self.strikes.entry(host.to_owned()).or_default();
                strikes.count += 1;
                if strikes.count >= STRIKES_BEFORE_REST {
                    let rest = FIRST_REST
                        .saturating_mul(2u32.saturating_pow(strikes.rests.min(16)))
                        .min(LONGEST_REST);
                    strikes.resting_until = Some(now + rest);
                    strikes.rests += 1;
                    strikes.count = 0;
                    tracing::warn!(
                        host,
                        rest_seconds = rest.as_secs(),
                        "a push host keeps timing out: its pushes wait without holding a sender"
                    );
                }
            }
            None => {}
        }
    }

    /// The room each user and host has now, for a claim.
    pub fn shares(
        &mut self,
        settings: &DeliverySettings,
        now: tokio::time::Instant,
    ) -> ClaimShares {
        let room = |held: &usize, share: usize| share.saturating_sub(*held);
        let mut host_room: BTreeMap<String, usize> = self
            .hosts
            .iter()
            .map(|(host, held)| (host.clone(), room(held, settings.per_host)))
            .collect();
        for (host, strikes) in &mut self.strikes {
            match strikes.resting_until {
                Some(until) if until > now => {
                    host_room.insert(host.clone(), 0);
                }
                // Rested: tried again, and rests longer if it still does not answer.
                Some(_) => strikes.resting_until = None,
                None => {}
            }
        }
        ClaimShares {
            per_user: settings.per_user.max(1),
            per_host: settings.per_host.max(1),
            user_room: self
                .users
                .iter()
                .map(|(user, held)| (user.clone(), room(held, settings.per_user)))
                .collect(),
            host_room,
        }
    }

    /// When the first resting host may be tried again, if any rests.
    pub fn rest_ends(&self, now: tokio::time::Instant) -> Option<Duration> {
        self.strikes
            .values()
            .filter_map(|strikes| strikes.resting_until)
            .filter(|until| *until > now)
            .min()
            .map(|until| until - now)
    }
}

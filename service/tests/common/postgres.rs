//! A real PostgreSQL for the tests: a throwaway cluster (`scripts/pg-cluster.sh`) on a
//! loopback port, one per test binary, with a fresh database per test. The cluster stops and
//! its directory goes when the test binary exits (the script's stdin closes).
//!
//! `USERNOTIFY_TEST_POSTGRES=postgres://user@host:port/db` uses a server already running
//! instead (each test still gets a database of its own in it).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;

use super::free_port;

/// Settings for the tests' clusters: no fsync (nothing here checks durability across a
/// power cut, and the machine is shared), room for every test's pools at once.
const TEST_SETTINGS: &[&str] = &["-c", "fsync=off", "-c", "max_connections=400"];

/// A cluster run by `scripts/pg-cluster.sh`, or a server given by the environment.
pub struct Cluster {
    /// `postgres://…/postgres`: the server's own database, where test databases are made.
    pub admin_url: String,
    control: Option<Mutex<(ChildStdin, BufReader<ChildStdout>, Child)>>,
}

impl Cluster {
    /// A cluster of its own (for a test that stops and starts the server).
    pub fn start(settings: &[&str]) -> Cluster {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-cluster.sh");
        let mut child = Command::new(script)
            .arg(free_port().to_string())
            .args(settings)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/pg-cluster.sh runs");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        assert!(
            url.starts_with("postgres://"),
            "the PostgreSQL test cluster did not start (is PostgreSQL installed? \
             scripts/install-tools.sh installs it)"
        );
        Cluster {
            admin_url: url.trim().to_owned(),
            control: Some(Mutex::new((stdin, stdout, child))),
        }
    }

    /// The binary's shared cluster, started on first use.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var("USERNOTIFY_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => Cluster {
                admin_url: url.trim().to_owned(),
                control: None,
            },
            _ => Cluster::start(TEST_SETTINGS),
        })
    }

    /// A new empty database; its URL.
    pub async fn fresh_database(&self) -> String {
        let name = format!("test_{}", usernotify_service::ids::new_id().unwrap())
            .to_ascii_lowercase()
            .replace('-', "_");
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let base = self
            .admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap();
        format!("{base}/{name}")
    }

    fn command(&self, command: &str, answer: &str) {
        let control = self.control.as_ref().expect("a cluster of the test's own");
        let mut control = control.lock().unwrap();
        writeln!(control.0, "{command}").unwrap();
        control.0.flush().unwrap();
        let mut line = String::new();
        control.1.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), answer);
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop_server(&self) {
        self.command("stop", "stopped");
    }

    /// Starts the stopped server again on the same port and data.
    pub fn start_server(&self) {
        self.command("start", "started");
    }
}

/// A fresh database on the shared cluster.
pub async fn fresh_database() -> String {
    Cluster::shared().fresh_database().await
}

//! The two backends' schemas, held to each other: a SQLite file and a PostgreSQL database,
//! each migrated from empty by the service, must have the same tables, the same columns
//! (name, whether NULL is allowed, and the kind of value), the same primary keys, the same
//! unique keys and the same foreign keys (with what a delete does). Each backend's
//! migrations are its own numbered files (`service/src/store/migrations/`); a drift between
//! them fails here.

mod common;

use std::collections::BTreeSet;

use sqlx::{Connection, Row};
use tempfile::TempDir;
use usernotify_service::store::{Db, DbLocation, DbSettings};

/// Columns only one backend has, each for what only that backend does. Nothing else may
/// differ.
const BACKEND_ONLY: &[(&str, &str, &str)] = &[
    // A replica's claim on a delivery (its lease): a SQLite file has one process, which
    // keeps its claims in memory.
    ("postgres", "deliveries", "leased_until"),
];

/// Keys only one backend has, for what only that backend must avoid. PostgreSQL's deliveries
/// name their subscription without a foreign key (its first migration says why): the check
/// would lock the user's subscription rows FOR KEY SHARE in every post's transaction, which
/// concurrent posts to one user share through a MultiXact that costs more than the post,
/// and a post racing a subscription's deletion would fail. Deleting a subscription deletes
/// its deliveries in the same statement instead; a delivery a racing post made anyway is
/// claimed as gone. SQLite has one writer, so its key costs nothing of the kind.
const BACKEND_ONLY_KEYS: &[(&str, &str)] = &[(
    "sqlite",
    "deliveries.subscription_id -> subscriptions.id ON DELETE CASCADE",
)];

/// What a schema is compared by, each fact a line of text so a difference reads plainly.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeSet<String>,
    columns: BTreeSet<String>,
    primary_keys: BTreeSet<String>,
    unique_keys: BTreeSet<String>,
    foreign_keys: BTreeSet<String>,
}

/// The kind of value a column holds, across the two dialects' type names.
fn kind(declared: &str) -> &'static str {
    let declared = declared.to_ascii_lowercase();
    if declared.contains("int") || declared == "boolean" {
        // SQLite has no boolean: 0 and 1 in an INTEGER.
        "integer"
    } else if declared.contains("char") || declared == "text" {
        "text"
    } else if declared == "blob" || declared == "bytea" {
        "bytes"
    } else {
        "other"
    }
}

fn column(table: &str, name: &str, not_null: bool, declared: &str) -> String {
    let null = if not_null { "NOT NULL" } else { "NULL" };
    format!("{table}.{name} {} {null}", kind(declared))
}

fn key(table: &str, mut columns: Vec<String>, partial: bool) -> String {
    columns.sort();
    let partial = if partial { " WHERE ..." } else { "" };
    format!("{table} ({}){partial}", columns.join(", "))
}

async fn sqlite_schema(dir: &TempDir) -> Schema {
    let path = dir.path().join("schema.db");
    let settings = DbSettings::default();
    let db = Db::open(&DbLocation::from(path.clone()), &settings)
        .await
        .unwrap();
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut schema = Schema::default();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let mut primary = Vec::new();
        let mut info = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap();
        let rows = info
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, i64>(5)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (name, declared, not_null, pk) = row.unwrap();
            // A primary key's column is never NULL (SQLite's INTEGER PRIMARY KEY is the rowid).
            schema
                .columns
                .insert(column(&table, &name, not_null || pk > 0, &declared));
            if pk > 0 {
                primary.push(name);
            }
        }
        schema.primary_keys.insert(key(&table, primary, false));
        let indexes: Vec<(String, bool, String, bool)> = conn
            .prepare(&format!("PRAGMA index_list({table})"))
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (index, unique, origin, partial) in indexes {
            if !unique || origin == "pk" {
                continue;
            }
            let columns: Vec<String> = conn
                .prepare(&format!("PRAGMA index_info({index})"))
                .unwrap()
                .query_map([], |row| row.get(2))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            schema.unique_keys.insert(key(&table, columns, partial));
        }
        let foreign: Vec<(String, String, String, String)> = conn
            .prepare(&format!("PRAGMA foreign_key_list({table})"))
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(2)?, row.get(3)?, row.get(4)?, row.get(6)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (parent, from, to, on_delete) in foreign {
            schema.foreign_keys.insert(format!(
                "{table}.{from} -> {parent}.{to} ON DELETE {}",
                on_delete.to_ascii_uppercase()
            ));
        }
        schema.tables.insert(table);
    }
    schema
}

async fn postgres_schema() -> Schema {
    let url = common::postgres::fresh_database().await;
    let db = Db::open(&DbLocation::from(url.clone()), &DbSettings::default())
        .await
        .unwrap();
    drop(db);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut schema = Schema::default();
    let tables = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
           AND table_name <> 'usernotify_schema'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in tables {
        schema.tables.insert(row.get(0));
    }
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, is_nullable = 'NO', data_type::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> 'usernotify_schema'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in columns {
        let (table, name): (String, String) = (row.get(0), row.get(1));
        schema
            .columns
            .insert(column(&table, &name, row.get(2), row.get(3)));
    }
    let keys = sqlx::query(
        "SELECT t.relname::text, ix.indisprimary, ix.indpred IS NOT NULL,
                array_agg(a.attname::text)
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (ix.indkey)
         WHERE t.relnamespace = current_schema()::regnamespace AND ix.indisunique
           AND t.relname <> 'usernotify_schema'
         GROUP BY ix.indexrelid, t.relname, ix.indisprimary, ix.indpred IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in keys {
        let (table, primary, partial, columns): (String, bool, bool, Vec<String>) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if primary {
            schema.primary_keys.insert(key(&table, columns, false));
        } else {
            schema.unique_keys.insert(key(&table, columns, partial));
        }
    }
    let foreign = sqlx::query(
        "SELECT c.relname::text, a.attname::text, p.relname::text, pa.attname::text,
                con.confdeltype::text
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_class p ON p.oid = con.confrelid
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
         JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = con.confkey[1]
         WHERE con.contype = 'f' AND c.relnamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in foreign {
        let (table, from, parent, to, action): (String, String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let on_delete = match action.as_str() {
            "c" => "CASCADE",
            "n" => "SET NULL",
            "r" => "RESTRICT",
            _ => "NO ACTION",
        };
        schema.foreign_keys.insert(format!(
            "{table}.{from} -> {parent}.{to} ON DELETE {on_delete}"
        ));
    }
    schema
}

/// The facts in `one` that `other` lacks, less the backend-only columns and keys of `backend`.
fn missing(backend: &str, one: &BTreeSet<String>, other: &BTreeSet<String>) -> Vec<String> {
    one.difference(other)
        .filter(|fact| {
            !BACKEND_ONLY.iter().any(|(only, table, name)| {
                *only == backend && fact.starts_with(&format!("{table}.{name} "))
            }) && !BACKEND_ONLY_KEYS
                .iter()
                .any(|(only, key)| *only == backend && fact == key)
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn both_backends_migrate_to_the_same_tables_columns_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_schema(&dir).await;
    let postgres = postgres_schema().await;
    assert!(
        sqlite.tables.contains("deliveries") && !sqlite.foreign_keys.is_empty(),
        "the SQLite schema was read: {sqlite:#?}"
    );
    for (what, ours, theirs) in [
        ("tables", &sqlite.tables, &postgres.tables),
        ("columns", &sqlite.columns, &postgres.columns),
        ("primary keys", &sqlite.primary_keys, &postgres.primary_keys),
        ("unique keys", &sqlite.unique_keys, &postgres.unique_keys),
        ("foreign keys", &sqlite.foreign_keys, &postgres.foreign_keys),
    ] {
        let only_sqlite = missing("sqlite", ours, theirs);
        let only_postgres = missing("postgres", theirs, ours);
        assert!(
            only_sqlite.is_empty() && only_postgres.is_empty(),
            "{what} differ:\n  only SQLite has {only_sqlite:#?}\n  only PostgreSQL has {only_postgres:#?}"
        );
    }
}

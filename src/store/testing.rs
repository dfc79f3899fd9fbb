//! The store's test harness: each test runs once against an SQLite file
//! and once against a private PostgreSQL server (which
//! `scripts/install-deps.sh` installs), or against PostgreSQL alone when
//! it is about PostgreSQL.

use std::future::Future;

use super::Store;
use super::batches::AccountKey;

#[allow(dead_code)] // restart() is for the integration tests
#[path = "../../tests/it/support/postgres.rs"]
pub(crate) mod server;

/// Runs `test` with a new SQLite store, then with a new PostgreSQL one.
pub(crate) async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::TempDir::new().unwrap();
    test(Store::open(dir.path().join("state.db")).unwrap()).await;
    with_postgres(|store, _| test(store)).await;
}

/// A batch with one account; returns the account's key.
pub(crate) async fn one_account(store: &Store) -> i64 {
    let batch = store.open_batch("b", None).await.unwrap();
    store
        .open_account(
            batch.id,
            AccountKey {
                source_email: "a@x".into(),
                destination_email: "a@y".into(),
                source_server: None,
                destination_server: None,
                undo_window_secs: 60,
            },
        )
        .await
        .unwrap()
        .id
}

/// Runs `test` with a new PostgreSQL store and its server's URL (to reach
/// the server beside the store).
pub(crate) async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = server::Postgres::start();
    let url = server.database("mailshift");
    let store = Store::open(url.parse::<super::StateLocation>().unwrap()).unwrap();
    test(store, server.url("postgres")).await;
}

//! The PostgreSQL backend: one client per store, statements prepared once
//! and kept, `?N` placeholders turned into PostgreSQL's `$N`.

use std::collections::HashMap;
use std::error::Error;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, NoTls, Statement};

use super::{Row, Value};
use crate::store::StoreError;
use crate::store::location::{PostgresUrl, StateLocation};

/// A client and the statements it has prepared, by their SQL.
pub struct PgConnection {
    client: Client,
    statements: HashMap<String, Statement>,
    /// A statement failed because the connection ended (the client may
    /// not have noticed yet).
    lost: bool,
}

/// Connects to the server `url` names.
pub(super) fn connect(url: &PostgresUrl) -> Result<PgConnection, StoreError> {
    Ok(PgConnection {
        client: client(url)?,
        statements: HashMap::new(),
        lost: false,
    })
}

/// A new client of the server `url` names (the store's, or one that holds
/// a lock).
pub(crate) fn client(url: &PostgresUrl) -> Result<Client, StoreError> {
    let open_error = |reason: String| StoreError::Open {
        state: StateLocation::Postgres(url.clone()),
        reason,
    };
    let tls = super::tls::from_url(url.expose()).map_err(open_error)?;
    let mut config = Config::from_str(&tls.url).map_err(|e| open_error(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(30));
    }
    if config.get_application_name().is_none() {
        config.application_name("mailshift");
    }
    if config.get_options().is_none() {
        // The schema's `IF NOT EXISTS` notices are not worth a log line.
        config.options("-c client_min_messages=warning");
    }
    match tls.connector {
        Some(connector) => config.connect(connector),
        None => config.connect(NoTls),
    }
    .map_err(|e| open_error(reason(&e)))
}

/// An error with its cause, which says what went wrong at the server
/// (the error alone says only "db error").
pub(crate) fn reason(error: &postgres::Error) -> String {
    match error.source() {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// The advisory lock key of a name: the same on every machine.
pub(crate) fn advisory_key(name: &str) -> i64 {
    let hash = blake3::hash(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    i64::from_be_bytes(first)
}

/// Prepared statements kept per connection, at most: statements whose
/// SQL names keys inline (a worker's heartbeat) differ from one time to
/// the next, and must not pile up in the client or the server.
const KEPT_STATEMENTS: usize = 256;

impl PgConnection {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        if self.statements.len() >= KEPT_STATEMENTS {
            // Dropped statements are closed at the server.
            self.statements.clear();
        }
        super::sent();
        let statement = self.client.prepare(&placeholders(sql));
        let statement = self.noted(statement)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        let changed = self.client.execute(&statement, &bind(params));
        self.noted(changed)
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &bind(params));
        self.noted(rows)?.iter().map(row).collect()
    }

    /// Whether the connection has ended: the server closed it, or a
    /// statement failed as it did.
    pub(super) fn is_lost(&self) -> bool {
        self.lost || self.client.is_closed()
    }

    pub(super) fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let done = self.client.batch_execute(sql);
        self.noted(done)
    }

    /// Notes a failure that ended the connection: it closed, or the server
    /// ended the session (SQLSTATE classes 08, connection exception, and
    /// 57, operator intervention: a shutdown, a terminated backend).
    fn noted<T>(&mut self, result: Result<T, postgres::Error>) -> Result<T, StoreError> {
        result.map_err(|error| {
            let class = error.code().map(|code| &code.code()[..2]);
            if error.is_closed() || matches!(class, Some("08" | "57")) {
                self.lost = true;
            }
            StoreError::from(error)
        })
    }
}

fn bind(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// `?N` → `$N`, outside quoted text.
fn placeholders(sql: &str) -> String {
    super::rewrite_placeholders(sql, |n| format!("${n}"))
}

/// A row's columns as values; a column of a type the schema does not use
/// is refused with its place.
fn row(row: &postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(index)?.map(Value::Integer)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(index)?
                .map(|n| Value::Integer(n.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(index)?
                .map(|n| Value::Integer(n.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(index)?
                .map(|b| Value::Integer(b.into()))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Blob)
        } else if *ty == Type::VOID {
            None
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(index)?.map(Value::Text)
        } else {
            return Err(StoreError::Column {
                index,
                reason: format!("PostgreSQL type {ty} is not one the store reads (cast it)"),
            });
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row::new(values))
}

/// A value goes as the type the server asked for: PostgreSQL infers each
/// parameter's type from the statement, the store's values carry none.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Text(text) => match *ty {
                Type::BYTEA => text.as_bytes().to_sql(ty, out),
                _ => text.to_sql(ty, out),
            },
            Value::Blob(bytes) => bytes.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_quotes() {
        assert_eq!(
            placeholders("SELECT '?1' WHERE a = ?1 AND b = ?12"),
            "SELECT '?1' WHERE a = $1 AND b = $12"
        );
    }

    #[tokio::test]
    async fn a_connection_the_server_ended_is_made_again() {
        crate::store::testing::with_postgres(|store, admin| async move {
            store.open_batch("before", None).await.unwrap();
            std::thread::spawn(move || {
                let mut client = Client::connect(&admin, NoTls).unwrap();
                let ended = client
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = 'mailshift'",
                        &[],
                    )
                    .unwrap();
                assert_eq!(ended.len(), 1, "the store's one connection");
            })
            .join()
            .unwrap();
            // The first statement finds the connection closed; the next
            // ones run on a new one.
            let _ = store.open_batch("during", None).await;
            store.open_batch("after", None).await.unwrap();
            assert!(store.batch_named("before").await.unwrap().is_some());
        })
        .await;
    }

    #[tokio::test]
    async fn a_refused_statement_says_why() {
        crate::store::testing::with_postgres(|store, _| async move {
            let refused = store
                .call(|db| db.execute("INSERT INTO nowhere VALUES (1)", Vec::new()))
                .await
                .unwrap_err();
            let text = refused.to_string();
            assert!(text.contains("\"nowhere\" does not exist"), "{text}");
        })
        .await;
    }

    #[tokio::test]
    async fn statements_of_inline_keys_do_not_pile_up_at_the_server() {
        crate::store::testing::with_postgres(|store, _| async move {
            let prepared = store
                .call(|db| {
                    for key in 0..3 * KEPT_STATEMENTS {
                        let sql = format!("SELECT CAST({key} AS BIGINT)");
                        let got: i64 = db.query_row(&sql, vec![], |row| row.get(0))?;
                        assert_eq!(got, key as i64);
                    }
                    db.query_row(
                        "SELECT count(*) FROM pg_prepared_statements",
                        vec![],
                        |row| row.get::<i64>(0),
                    )
                })
                .await
                .unwrap();
            assert!(
                (1..=KEPT_STATEMENTS as i64 + 1).contains(&prepared),
                "{prepared} statements prepared"
            );
        })
        .await;
    }

    #[test]
    fn advisory_keys_are_stable() {
        assert_eq!(advisory_key("batch-x"), advisory_key("batch-x"));
        assert_ne!(advisory_key("batch-x"), advisory_key("batch-y"));
    }
}

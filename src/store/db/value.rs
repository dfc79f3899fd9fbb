//! The values that cross between the store and a backend: what a
//! parameter is made of and what a row holds.

use super::super::StoreError;
use crate::vocabulary::{AccountState, BatchState, JobState, StageState};

/// One stored value. Every column of the schema is one of these: numbers
/// (flags too, as 0 and 1) are integers, timestamps are seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// What can be a statement's parameter.
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

/// What a column can be read as.
pub trait FromValue: Sized {
    /// The column's value as `Self`, or why it is not one.
    fn from_value(value: &Value) -> Result<Self, String>;
}

/// One row of a query's answer.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// A row of these values, in column order.
    pub(crate) fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    /// The column at `index` (0-based), read as `T`.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, StoreError> {
        let value = self.values.get(index).ok_or(StoreError::Column {
            index,
            reason: "no such column".into(),
        })?;
        T::from_value(value).map_err(|reason| StoreError::Column { index, reason })
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for [u8; 16] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}

/// Integers that always fit in an `i64`.
macro_rules! small_integers {
    ($($int:ty),+) => {$(
        impl ToValue for $int {
            fn to_value(&self) -> Value {
                Value::Integer(i64::from(*self))
            }
        }

        impl FromValue for $int {
            fn from_value(value: &Value) -> Result<Self, String> {
                let wide = i64::from_value(value)?;
                <$int>::try_from(wide).map_err(|_| format!("{wide} is out of range"))
            }
        }
    )+};
}

small_integers!(i32, u32);

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Integer(*self)
    }
}

/// Counts and sizes; no count comes near `i64::MAX`.
impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(n) => Ok(*n),
            other => Err(format!("expected an integer, found {}", kind(other))),
        }
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        let wide = i64::from_value(value)?;
        u64::try_from(wide).map_err(|_| format!("{wide} is negative"))
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(text) => Ok(text.clone()),
            other => Err(format!("expected text, found {}", kind(other))),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(bytes) => Ok(bytes.clone()),
            Value::Text(text) => Ok(text.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {}", kind(other))),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Integer(_) => "an integer",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    }
}

/// Stores a state by its name and reads it back, refusing a name this
/// version does not know (a database written by a newer mailshift, or
/// edited by hand). The only place a state is a string.
macro_rules! stored_states {
    ($($state:ident: $what:literal),+ $(,)?) => {$(
        impl ToValue for $state {
            fn to_value(&self) -> Value {
                Value::Text(self.as_str().to_owned())
            }
        }

        impl FromValue for $state {
            fn from_value(value: &Value) -> Result<Self, String> {
                let name = String::from_value(value)?;
                $state::parse(&name).ok_or_else(|| {
                    format!("unknown {} state {name:?} in the state database", $what)
                })
            }
        }
    )+};
}

stored_states!(
    AccountState: "account",
    StageState: "stage",
    BatchState: "batch",
    JobState: "job",
);

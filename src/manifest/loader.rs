//! A YAML manifest read into a [`Manifest`]: the document checked against
//! the schema, the values it rejected pruned so the rest can still be
//! read, the batch settings and accounts typed, and the accounts CSV it
//! names (or the CSV-like file it is the defaults of) loaded after them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    AccountEntry, AccountSpec, Diagnostic, Diagnostics, Format, Manifest, ManifestFile, Origin,
    Place, Position, detect, load_table, read_text, schema, yaml,
};

/// A CSV-like file given directly, for which a YAML file gives the
/// defaults: its path, text and format.
pub(super) type Table = (PathBuf, String, Format);

/// Loads a YAML manifest. `table` is a CSV-like file given directly, for
/// which this YAML file provides the defaults.
pub(super) fn load_yaml(
    path: &Path,
    text: &str,
    table: Option<Table>,
) -> Result<Manifest, Diagnostics> {
    let file = Arc::new(path.to_path_buf());
    let doc = yaml::parse(text).map_err(|e| {
        let position = match e.pos {
            Some(p) => Position::Text {
                line: p.line,
                column: p.column,
            },
            None => Position::File,
        };
        let place = Place {
            file: Arc::clone(&file),
            position,
            field: None,
        };
        Diagnostics::from_iter([Diagnostic::error(place, e.message)])
    })?;
    let report = schema::check(&doc, &file);
    let mut diagnostics: Diagnostics = report.diagnostics.into_iter().collect();
    let mut value = doc.value;
    let broken = prune(&mut value, report.faulty);
    let Value::Object(mut top) = value else {
        if diagnostics.is_empty() {
            diagnostics = Diagnostics::whole_file(path, "a manifest must be a mapping of fields");
        }
        return Err(diagnostics);
    };
    let index = Arc::new(doc.index);
    let at = |pointer: &str| Origin::Yaml {
        file: Arc::clone(&file),
        index: Arc::clone(&index),
        pointer: pointer.to_owned(),
    };
    let root = at("");
    let defaults_value = take(&mut top, "defaults");
    let accounts_value = take(&mut top, "accounts");
    let settings = read_settings(&mut top, &at, &mut diagnostics);
    let (defaults, defaults_ok) = match defaults_value {
        None => (AccountSpec::default(), true),
        Some(v) => match typed_at(v, "/defaults", &at, &mut diagnostics) {
            Some(d) => (d, true),
            None => (AccountSpec::default(), false),
        },
    };
    let mut accounts = read_accounts(accounts_value, &broken, &at, &mut diagnostics);

    let mut files = vec![path.to_path_buf()];
    let format = table.as_ref().map_or(Format::Yaml, |(_, _, f)| *f);
    let given = table
        .as_ref()
        .map_or_else(|| path.to_path_buf(), |(p, _, _)| p.clone());
    let (found, problems) = match (&settings.accounts_csv, table) {
        (Some(name), table) => {
            let place = root.place(&["accounts_csv"]);
            named_csv(&root_dir(path).join(name), table, &place)
        }
        (None, table) => (table, Vec::new()),
    };
    diagnostics.extend(problems);
    if let Some(table) = found {
        files.push(table.0.clone());
        append_rows(table, &mut accounts, &mut diagnostics);
    }

    Ok(Manifest {
        path: given,
        files,
        format,
        settings,
        root: Some(root),
        defaults,
        defaults_origin: Some(at("/defaults")),
        defaults_ok,
        accounts,
        diagnostics,
    })
}

fn take(top: &mut Map<String, Value>, key: &str) -> Option<Value> {
    top.remove(key).filter(|v| !v.is_null())
}

/// The batch-level fields, typed; `defaults` and `accounts` are read apart.
fn read_settings(
    top: &mut Map<String, Value>,
    at: &dyn Fn(&str) -> Origin,
    diagnostics: &mut Diagnostics,
) -> ManifestFile {
    let mut read = |key: &str| -> Option<Value> { take(top, key) };
    macro_rules! field {
        ($key:literal) => {
            read($key).and_then(|v| typed_at(v, concat!("/", $key), at, diagnostics))
        };
    }
    ManifestFile {
        schema: field!("$schema"),
        batch: field!("batch"),
        notify: field!("notify"),
        notify_on: field!("notify_on"),
        language: field!("language"),
        notification_templates: field!("notification_templates"),
        limits: field!("limits"),
        undo_window_hours: field!("undo_window_hours"),
        start_after: field!("start_after"),
        smtp: field!("smtp"),
        defaults: None,
        accounts: None,
        accounts_csv: field!("accounts_csv"),
    }
}

/// The `accounts` list, each entry typed where the schema found no fault
/// in it (a faulty one is read leniently, its problems already told).
fn read_accounts(
    value: Option<Value>,
    broken: &HashMap<usize, Vec<String>>,
    at: &dyn Fn(&str) -> Origin,
    diagnostics: &mut Diagnostics,
) -> Vec<AccountEntry> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    let reported: std::collections::HashSet<usize> =
        diagnostics.iter().filter_map(|d| d.account).collect();
    let mut accounts = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let pointer = format!("/accounts/{i}");
        let spec = if reported.contains(&i) {
            serde_json::from_value::<AccountSpec>(item).ok()
        } else {
            typed_at::<AccountSpec>(item, &pointer, at, diagnostics)
        };
        accounts.push(AccountEntry {
            spec,
            origin: at(&pointer),
            broken: broken.get(&i).cloned().unwrap_or_default(),
        });
    }
    accounts
}

/// The accounts CSV a manifest names (`accounts_csv`), read, or the file
/// given directly when it is that one; with the problems found, placed at
/// `accounts_csv`.
fn named_csv(
    csv_path: &Path,
    given: Option<Table>,
    place: &Place,
) -> (Option<Table>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    if let Some((given, _, _)) = &given
        && !same_file(csv_path, given)
    {
        problems.push(Diagnostic::error(
            place.clone(),
            format!(
                "this file is the defaults of {} but names {} as its accounts CSV",
                given.display(),
                csv_path.display()
            ),
        ));
    }
    let loaded = match given {
        Some(table) if same_file(csv_path, &table.0) => Ok(table),
        _ => read_text(csv_path).map(|text| {
            let format = match detect(csv_path, &text) {
                Format::Yaml => Format::Csv,
                f => f,
            };
            (csv_path.to_path_buf(), text, format)
        }),
    };
    match loaded {
        Ok(table) => (Some(table), problems),
        Err(found) => {
            problems.extend(found.into_iter().map(|d| {
                Diagnostic::error(
                    place.clone(),
                    format!("accounts CSV {}: {}", csv_path.display(), d.message),
                )
            }));
            (None, problems)
        }
    }
}

/// Reads a CSV-like file's rows after the accounts already there, with
/// their problems numbered accordingly.
fn append_rows(table: Table, accounts: &mut Vec<AccountEntry>, diagnostics: &mut Diagnostics) {
    let (path, text, format) = table;
    let (rows, found) = load_table(format, &text, &Arc::new(path));
    let offset = accounts.len();
    accounts.extend(rows);
    diagnostics.extend(found.into_iter().map(|d| {
        let account = d.account.map(|a| a + offset);
        d.for_account(account)
    }));
}

/// Removes the values the schema rejected, so the rest of the document can
/// still be read and checked. Containers that hold whole accounts or the
/// defaults stay: without them nothing sensible can be checked. Returns,
/// per account, the fields removed (`source.port`).
fn prune(value: &mut Value, mut faulty: Vec<String>) -> HashMap<usize, Vec<String>> {
    let mut broken: HashMap<usize, Vec<String>> = HashMap::new();
    // Later array items first, so earlier indexes stay right.
    faulty.sort_by_key(|p| std::cmp::Reverse(sort_key(p)));
    faulty.dedup();
    for pointer in faulty {
        let segments = yaml::pointer_segments(&pointer);
        let keep = match segments.as_slice() {
            [] => true,
            [top] => top == "accounts" || top == "defaults",
            [top, _] => top == "accounts" || top == "defaults",
            _ => false,
        };
        if keep {
            continue;
        }
        if let [top, index, rest @ ..] = segments.as_slice()
            && top == "accounts"
            && let Ok(index) = index.parse::<usize>()
        {
            broken.entry(index).or_default().push(rest.join("."));
        }
        remove_at(value, &segments);
    }
    broken
}

/// Orders pointers with numeric segments compared as numbers.
fn sort_key(pointer: &str) -> Vec<(u64, String)> {
    yaml::pointer_segments(pointer)
        .into_iter()
        .map(|s| (s.parse().unwrap_or(u64::MAX), s))
        .collect()
}

fn remove_at(value: &mut Value, segments: &[String]) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut node = value;
    for segment in parents {
        let next = match node {
            Value::Object(map) => map.get_mut(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    match node {
        Value::Object(map) => {
            map.remove(last);
        }
        Value::Array(items) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

fn root_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Deserializes `value` as `T`; a failure the schema did not already
/// report becomes a diagnostic at `pointer`.
fn typed_at<T: DeserializeOwned>(
    value: Value,
    pointer: &str,
    at: &dyn Fn(&str) -> Origin,
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    match serde_json::from_value(value) {
        Ok(v) => Some(v),
        Err(_) => {
            let place = at(pointer).whole();
            let already = diagnostics.iter().any(|d| {
                d.place.file == place.file
                    && match (&d.place.field, &place.field) {
                        (Some(f), Some(p)) => {
                            f == p
                                || f.starts_with(&format!("{p}."))
                                || f.starts_with(&format!("{p}["))
                        }
                        _ => false,
                    }
            });
            if !already {
                // Serde's message may quote the value, which may be a
                // secret: say what is wrong without it.
                diagnostics.push(Diagnostic::error(
                    place,
                    "this value does not have the expected type or form",
                ));
            }
            None
        }
    }
}

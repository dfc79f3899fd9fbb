//! Test support: reads what this module writes back with vobject, the
//! iCalendar parser Radicale itself uses (Debian's `python3-vobject`,
//! installed with `radicale` by `scripts/install-deps.sh`), and expands
//! recurrences with its RRULE engine (dateutil): an independent check of
//! the syntax, the time zones and the instances.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const SCRIPT: &str = r#"
import datetime, itertools, json, sys
import vobject

UTC = datetime.timezone.utc

def show(v):
    if isinstance(v, list):
        return [show(x) for x in v]
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            return v.strftime("%Y%m%dT%H%M%S")
        return v.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if isinstance(v, datetime.date):
        return v.strftime("%Y%m%d")
    if isinstance(v, datetime.timedelta):
        return int(v.total_seconds() // 60)
    return str(v)

text = sys.stdin.buffer.read().decode("utf-8")
cal = vobject.readOne(text, validate=True)
cal.serialize()
out = []
for comp in cal.getChildren():
    if comp.name not in ("VEVENT", "VTODO"):
        continue
    props = {}
    for line in comp.getChildren():
        if isinstance(line, vobject.base.Component):
            sub = {l.name: show(l.value) for l in line.getChildren()}
            props.setdefault(line.name, []).append(sub)
        else:
            props.setdefault(line.name, []).append(
                {"value": show(line.value), "params": line.params})
    entry = {"name": comp.name, "props": props}
    if "RRULE" in props:
        rules = comp.getrruleset(addRDate=True)
        dated = not isinstance(comp.dtstart.value, datetime.datetime)
        entry["instances"] = [show(d.date() if dated else d) for d in itertools.islice(rules, 200)]
    out.append(entry)
json.dump(out, sys.stdout)
"#;

/// The components of an iCalendar object as vobject reads them: each with
/// its properties (values in UTC or as dates) and, when it recurs, its
/// first 200 instances. Panics, with vobject's message, when it cannot
/// read the object.
pub(super) fn parse(ics: &[u8]) -> Vec<Value> {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 not found: run scripts/install-deps.sh");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(ics)
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "vobject cannot read the object:\n{}\n{}",
        String::from_utf8_lossy(ics),
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("JSON from the checker") {
        Value::Array(components) => components,
        other => panic!("not a list: {other}"),
    }
}

/// The values of a property of a parsed component.
pub(super) fn values(component: &Value, name: &str) -> Vec<Value> {
    component["props"][name]
        .as_array()
        .map(|all| all.iter().map(|p| p["value"].clone()).collect())
        .unwrap_or_default()
}

/// The one value of a property, as a string.
pub(super) fn value(component: &Value, name: &str) -> String {
    let all = values(component, name);
    assert_eq!(all.len(), 1, "{name} in {component}");
    match &all[0] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

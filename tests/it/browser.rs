//! The HTML report in a real browser: Debian's Chromium, headless, loads
//! the report from a file, with no console message, and draws the accounts
//! table.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The report the golden test keeps equal to what `report::html::render`
/// makes of its sample batch: three accounts, one failed, one with item
/// errors, and a destination address holding `<script>`.
const REPORT: &str = include_str!("../golden/report.html");

/// Chromium from `PATH` or Debian's place; the test fails without it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("chromium not found: run scripts/install-deps.sh"))
}

/// What one headless launch left.
struct Loaded {
    /// The DOM after loading (`--dump-dom`).
    dom: String,
    /// Chromium's log: console messages appear as `...:CONSOLE...` lines.
    log: String,
    /// The screenshot, as written.
    png: Vec<u8>,
}

/// Loads `page` in headless Chromium once, in a 1200×900 window:
/// screenshot and DOM together.
fn load(page: &Path, work: &Path) -> Loaded {
    load_sized(page, work, (1200, 900))
}

/// Loads `page` in a window of `size` (width, height).
fn load_sized(page: &Path, work: &Path, size: (u32, u32)) -> Loaded {
    let screenshot = work.join("report.png");
    let dom = work.join("dom.html");
    let log = work.join("chromium.log");
    let mut child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args(["--disable-sync", "--no-first-run", "--hide-scrollbars"])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!(
            "--user-data-dir={}",
            work.join("profile").display()
        ))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&dom).expect("create the DOM file"))
        .stderr(std::fs::File::create(&log).expect("create the log"))
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in 90s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}): {log}");
    Loaded {
        dom: std::fs::read_to_string(&dom).expect("read the DOM"),
        png: std::fs::read(&screenshot).unwrap_or_else(|e| panic!("no screenshot ({e}): {log}")),
        log,
    }
}

/// The element `html` starts with, up to its matching end tag (same-name
/// elements may nest inside).
fn element<'a>(html: &'a str, name: &str) -> &'a str {
    let (open, close) = (format!("<{name}"), format!("</{name}>"));
    let mut depth = 0;
    let mut at = 0;
    loop {
        let next_open = html[at..].find(&open).map(|i| at + i);
        let next_close = html[at..]
            .find(&close)
            .map(|i| at + i)
            .unwrap_or_else(|| panic!("<{name}> does not end: {html}"));
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                at = o + open.len();
            }
            _ => {
                depth -= 1;
                at = next_close + close.len();
                if depth == 0 {
                    return &html[..at];
                }
            }
        }
    }
}

#[test]
fn the_html_report_loads_in_a_headless_browser_and_shows_its_table() {
    let work = tempfile::tempdir().expect("temporary directory");
    let page = work.path().join("report.html");
    std::fs::write(&page, REPORT).expect("write the report");
    let loaded = load(&page, work.path());

    // No console message at all: no script error, no resource refused
    // (the page is self-contained).
    let console: Vec<&str> = loaded
        .log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    // The DOM as the browser built it: the accounts table, every account's
    // migration ID in it, and the hostile address left as text.
    let dom = &loaded.dom;
    let table = dom
        .find("<table class=\"accounts\">")
        .unwrap_or_else(|| panic!("no accounts table in the DOM: {dom}"));
    let table = element(&dom[table..], "table");
    assert!(table.contains("<th>Migration ID</th>"), "{table}");
    for id in ["7K3F-9QXP-A2RT", "M4QW-8ZTX-3HJN", "Q9RS-T2UV-WXYZ"] {
        assert!(table.contains(id), "{id} not in the table: {table}");
    }
    // Failures first.
    assert!(table.find("Q9RS-T2UV-WXYZ") < table.find("7K3F-9QXP-A2RT"));
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "a script element was built besides the filter's: {dom}"
    );
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // A real screenshot of the window: a PNG of 1200×900 that is far from
    // blank (an empty page compresses to a few kilobytes).
    let png = &loaded.png;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 900));
    assert!(
        png.len() > 30_000,
        "the screenshot looks empty: {} bytes",
        png.len()
    );
}

/// Measures the page as laid out, after the filter box was given `Q9RS`,
/// and writes the figures into the DOM for `--dump-dom` to carry out.
const PROBE: &str = r#"<script>
(function () {
  var width = document.documentElement.clientWidth;
  var numbers = document.querySelectorAll(
    "table.accounts > tbody > tr > td[data-label='Stages'] > table.stages td[data-label]");
  var hidden = 0, unlabelled = 0;
  numbers.forEach(function (cell) {
    var r = cell.getBoundingClientRect();
    if (r.width === 0 || r.left < 0 || r.right > width) { hidden += 1; }
    var label = getComputedStyle(cell, "::before").content;
    if (label.indexOf(cell.getAttribute("data-label")) < 0) { unlabelled += 1; }
  });
  var overflowing = 0;
  document.querySelectorAll(".addr").forEach(function (cell) {
    if (cell.scrollWidth > cell.clientWidth + 1) { overflowing += 1; }
  });
  var box = document.getElementById("filter");
  box.value = "q9rs";
  box.dispatchEvent(new Event("input"));
  var rows = document.querySelectorAll("table.accounts > tbody > tr");
  var shown = Array.prototype.filter.call(rows, function (r) { return !r.hidden; });
  var out = {
    width: width, numbers: numbers.length, hidden_numbers: hidden, unlabelled: unlabelled,
    overflowing_addresses: overflowing, rows: rows.length, shown: shown.length,
    shown_id: shown.length ? shown[0].querySelector("td.id").textContent : "",
    label: document.getElementById("shown").textContent
  };
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

/// Regression: at phone width each account's stage numbers were cut off
/// from their column names, addresses broke mid-word, and 1,000 accounts
/// had no filter. In a 500 pixel wide window (headless Chromium's
/// narrowest; the page's phone layout starts below 640) every stage number
/// is inside the screen with its label, no address overflows its cell
/// (they break after `@` and dots), and the filter box keeps only the
/// matching account.
#[test]
fn at_phone_width_stage_numbers_show_and_the_filter_box_filters() {
    let work = tempfile::tempdir().expect("temporary directory");
    let page = work.path().join("report.html");
    let probed = REPORT.replace("</body>", &format!("{PROBE}\n</body>"));
    std::fs::write(&page, probed).expect("write the report");
    let loaded = load_sized(&page, work.path(), (500, 844));
    let console: Vec<&str> = loaded
        .log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let dom = &loaded.dom;
    let start = dom
        .find("<pre id=\"probe\">")
        .unwrap_or_else(|| panic!("no probe: {dom}"));
    let text = &dom[start + "<pre id=\"probe\">".len()..];
    let text = &text[..text.find("</pre>").unwrap()];
    let probe: serde_json::Value = serde_json::from_str(text).unwrap();
    assert!(probe["width"].as_u64().unwrap() < 640, "{probe}");
    assert!(probe["numbers"].as_u64().unwrap() >= 7, "{probe}");
    assert_eq!(probe["hidden_numbers"], 0, "{probe}");
    assert_eq!(
        probe["unlabelled"], 0,
        "each number with its label: {probe}"
    );
    assert_eq!(probe["overflowing_addresses"], 0, "{probe}");
    assert_eq!(probe["rows"], 3, "{probe}");
    assert_eq!(probe["shown"], 1, "{probe}");
    assert_eq!(probe["shown_id"], "Q9RS-T2UV-WXYZ", "{probe}");
    assert_eq!(probe["label"], "1 of 3 accounts", "{probe}");
    assert!(dom.contains("@<wbr>"), "addresses break after @: {dom}");
}

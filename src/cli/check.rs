//! `mailshift plan --check FILE`: the preflight of a batch, as a table or
//! as JSON. Exit code 0 only when every account is ready.

use std::io::{self, Write};

use anyhow::Context;

use super::{Exit, OutputFormat, PlanArgs};
use crate::autodetect::{Config, Detector};
use crate::preflight::{self, AccountReport, EndpointReport, Report, Status, estimate};
use crate::protocols::dav::discovery::Service;

/// Runs the preflight of `args.file`.
pub fn check(args: &PlanArgs) -> anyhow::Result<Exit> {
    let mut out = io::stdout().lock();
    let checked = match super::check_file(&args.file, args.strict) {
        Ok(checked) if checked.is_valid() => checked,
        Ok(checked) => {
            writeln!(out, "{}", checked.diagnostics)?;
            writeln!(out, "{}: invalid, nothing was checked", args.file.display())?;
            return Ok(Exit::Invalid);
        }
        Err(diagnostics) => {
            writeln!(out, "{diagnostics}")?;
            writeln!(out, "{}: invalid, nothing was checked", args.file.display())?;
            return Ok(Exit::Invalid);
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mailshift: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Starting the async runtime")?;
    let mut plan = checked.plan;
    let report = runtime.block_on(async {
        let detector = Detector::new(config);
        let outcome = crate::plan::autodetect::resolve(&mut plan, &detector).await;
        preflight::check(&plan, &outcome, &preflight::Options::default()).await
    });
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("Writing the report")?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_report(&mut out, &report)?,
    }
    Ok(if report.ready {
        Exit::Success
    } else {
        Exit::AccountsFailed
    })
}

fn write_report(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let t = &report.totals;
    writeln!(
        out,
        "batch {}: {} checked, {} ready, {} not ready",
        report.batch,
        count(t.accounts, "account"),
        t.ready,
        t.accounts - t.ready
    )?;
    if let Some(refused) = &report.administrator {
        writeln!(out, "{refused}")?;
    }
    writeln!(out)?;
    write_table(out, report)?;
    write_sections(out, report)?;
    writeln!(out)?;
    write_totals(out, report)
}

/// One row per account, columns aligned.
fn write_table(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let header = [
        "ACCOUNT",
        "SOURCE",
        "DESTINATION",
        "WEBDAV",
        "FOLDERS",
        "MESSAGES",
        "SIZE",
        "DAV ITEMS",
        "TIME",
    ];
    let rows: Vec<[String; 9]> = report.accounts.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 9]| {
        let mut text = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Text columns to the left, numbers to the right.
            if i < 4 {
                text.push_str(&format!(" {cell:<w$}"));
            } else {
                text.push_str(&format!(" {cell:>w$}"));
            }
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line(r.each_ref().map(String::as_str)))?;
    }
    Ok(())
}

/// What autodetect found, the WebDAV homes, what is not ready, warnings.
fn write_sections(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let detected: Vec<String> = report
        .accounts
        .iter()
        .flat_map(|a| {
            ends(a).into_iter().filter_map(move |(side, e)| {
                let from = e.autodetected.as_ref()?;
                Some(format!(
                    "{} {side}: {} from {from}",
                    e.email,
                    e.server.as_deref().unwrap_or("?")
                ))
            })
        })
        .collect();
    section(out, "autodetected", &detected)?;
    let homes: Vec<String> = report
        .accounts
        .iter()
        .flat_map(|a| {
            ends(a)
                .into_iter()
                .flat_map(move |(side, e)| e.dav.iter().map(move |d| (side, e, d)))
        })
        .filter(|(_, _, d)| d.status == Status::Ok)
        .map(|(side, e, d)| {
            let noun = match d.service {
                Service::CalDav => "calendar",
                Service::CardDav => "address book",
            };
            format!(
                "{} {side} {}: {}, {}",
                e.email,
                d.home.as_deref().unwrap_or("?"),
                count(d.collections, noun),
                count(d.items as usize, "item")
            )
        })
        .collect();
    section(out, "webdav", &homes)?;
    let problems: Vec<String> = report
        .accounts
        .iter()
        .flat_map(|a| a.problems.iter().cloned())
        .collect();
    section(out, "not ready", &problems)?;
    let warnings: Vec<String> = report
        .accounts
        .iter()
        .flat_map(|a| a.warnings.iter().cloned())
        .collect();
    section(out, "warnings", &warnings)
}

/// The batch's volume and the estimated duration.
fn write_totals(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let t = &report.totals;
    writeln!(
        out,
        "total: {}, {}, {}{}",
        count(t.folders, "folder"),
        count(t.messages as usize, "message"),
        if t.bytes_estimated { "about " } else { "" },
        size(t.bytes)
    )?;
    let uncounted = report
        .accounts
        .iter()
        .filter(|a| a.volume.is_none())
        .count();
    let scope = if uncounted == 0 {
        String::new()
    } else {
        format!(
            " for the accounts counted ({} could not be read)",
            count(uncounted, "account")
        )
    };
    if report.accounts.iter().any(|a| !a.source.dav.is_empty()) {
        writeln!(
            out,
            "webdav at the sources: {}, {} (not in the estimated duration: \
             there is no measured WebDAV pace)",
            count(t.dav_collections, "collection"),
            count(t.dav_items as usize, "item")
        )?;
    }
    writeln!(
        out,
        "estimated duration{scope}: {} ({})",
        estimate::human_duration(report.estimate.seconds),
        report.estimate.basis
    )
}

fn row(a: &AccountReport) -> [String; 9] {
    let dash = || "-".to_owned();
    let (folders, messages, bytes) = match &a.volume {
        Some(v) => (
            v.folders.to_string(),
            v.messages.to_string(),
            format!(
                "{}{}",
                if v.bytes_estimated { "~" } else { "" },
                size(v.bytes)
            ),
        ),
        None => (dash(), dash(), dash()),
    };
    let who = if a.source.email.is_empty() {
        &a.destination.email
    } else {
        &a.source.email
    };
    let davs = || {
        ends(a)
            .into_iter()
            .flat_map(|(side, e)| e.dav.iter().map(move |d| (side, d)))
    };
    let webdav = match davs().find(|(_, d)| !matches!(d.status, Status::Ok | Status::NotChecked)) {
        Some((side, d)) => format!("{side} {}: {}", d.service, d.status.describe()),
        None if davs().next().is_some() => "ok".to_owned(),
        None => dash(),
    };
    let dav_items = if a.source.dav.iter().any(|d| d.status == Status::Ok) {
        a.source
            .dav
            .iter()
            .map(|d| d.items)
            .sum::<u64>()
            .to_string()
    } else {
        dash()
    };
    [
        format!("{} {who}", if a.ready { "✓" } else { "✗" }),
        a.source.status.describe().to_owned(),
        a.destination.status.describe().to_owned(),
        webdav,
        folders,
        messages,
        bytes,
        dav_items,
        a.estimated_seconds
            .map_or_else(dash, estimate::human_duration),
    ]
}

/// Both ends of an account, named.
fn ends(a: &AccountReport) -> [(&'static str, &EndpointReport); 2] {
    [("source", &a.source), ("destination", &a.destination)]
}

fn section(out: &mut impl Write, title: &str, lines: &[String]) -> io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{title}:")?;
    for line in lines {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `1.5 MiB`, `312 KiB`, `12 bytes`.
fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.0} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

//! Writing rows to stdout as a table, JSON, NDJSON or CSV.
//!
//! Machine formats (json, ndjson, csv) carry every column; the table leaves out the ones only
//! programs need (raw nanosecond times, ids). A closed pipe (`| head`) ends output quietly.

use std::io::{self, Write};

use comfy_table::{
    CellAlignment, ColumnConstraint, ContentArrangement, Table as ComfyTable, presets,
};

use crate::cli::OutputFormat;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (JSON string).
    Text(String),
    /// An exact decimal kept as text so no digit is lost (JSON string, right-aligned in tables).
    Decimal(String),
    /// An integer.
    Int(u64),
    /// A floating-point number.
    Float(f64),
    /// No value (JSON null, empty in CSV and tables).
    Null,
}

impl Value {
    fn is_numeric(&self) -> bool {
        matches!(self, Value::Decimal(_) | Value::Int(_) | Value::Float(_))
    }

    fn plain(&self) -> String {
        match self {
            Value::Text(s) | Value::Decimal(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Null => String::new(),
        }
    }

    fn json(&self) -> String {
        match self {
            Value::Text(s) | Value::Decimal(s) => json_string(s),
            Value::Int(i) => i.to_string(),
            Value::Float(f) if f.is_finite() => serde_json::Number::from_f64(*f)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "null".into()),
            Value::Float(_) | Value::Null => "null".into(),
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A column: its name and whether the table shows it.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header and JSON key.
    pub name: &'static str,
    /// Shown in `--format table`.
    pub in_table: bool,
}

/// Rows with named columns, ready to print.
#[derive(Debug, Clone)]
pub struct Rows {
    /// The columns.
    pub columns: Vec<Column>,
    /// The values, one `Vec` per row, in column order.
    pub rows: Vec<Vec<Value>>,
}

/// Writes `rows` to `out` (stdout) in `format`. A table fits the terminal's width when stdout
/// is a terminal and is never wrapped when it is not (see [`crate::terminal::table_width`]).
pub fn write(out: &mut dyn Write, format: OutputFormat, rows: &Rows) -> io::Result<()> {
    match format {
        OutputFormat::Table => write_table(out, rows, crate::terminal::table_width_now()),
        OutputFormat::Json => {
            out.write_all(b"[")?;
            for (i, row) in rows.rows.iter().enumerate() {
                out.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
                write_object(out, &rows.columns, row)?;
            }
            out.write_all(if rows.rows.is_empty() {
                b"]\n"
            } else {
                b"\n]\n"
            })
        }
        OutputFormat::Ndjson => {
            for row in &rows.rows {
                write_object(out, &rows.columns, row)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        OutputFormat::Csv => {
            let mut csv = csv_writer(out);
            write_csv_header(&mut csv, &rows.columns)?;
            write_csv_rows(&mut csv, &rows.rows)?;
            csv.flush()
        }
    }
}

/// Writes rows batch by batch for the formats that can stream (json, ndjson, csv), so long
/// fetches print as they go and never hold everything in memory.
#[derive(Debug)]
pub struct Streamer {
    format: OutputFormat,
    started: bool,
}

impl Streamer {
    /// A streamer for `format` (not `table`, which needs every row to size its columns).
    pub fn new(format: OutputFormat) -> Streamer {
        Streamer {
            format,
            started: false,
        }
    }

    /// Writes one batch.
    pub fn rows(&mut self, out: &mut dyn Write, rows: &Rows) -> io::Result<()> {
        if matches!(self.format, OutputFormat::Csv | OutputFormat::Table) {
            if !rows.rows.is_empty() {
                let mut csv = csv_writer(&mut *out);
                if !self.started {
                    write_csv_header(&mut csv, &rows.columns)?;
                }
                write_csv_rows(&mut csv, &rows.rows)?;
                csv.flush()?;
                self.started = true;
            }
            return out.flush();
        }
        for row in &rows.rows {
            if self.format == OutputFormat::Json {
                out.write_all(if self.started { b",\n  " } else { b"[\n  " })?;
                write_object(out, &rows.columns, row)?;
            } else {
                write_object(out, &rows.columns, row)?;
                out.write_all(b"\n")?;
            }
            self.started = true;
        }
        out.flush()
    }

    /// Closes the output (the JSON array).
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.format == OutputFormat::Json {
            out.write_all(if self.started { b"\n]\n" } else { b"[]\n" })?;
        }
        out.flush()
    }
}

fn write_object(out: &mut dyn Write, columns: &[Column], row: &[Value]) -> io::Result<()> {
    out.write_all(b"{")?;
    for (i, (column, value)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, "{}:{}", json_string(column.name), value.json())?;
    }
    out.write_all(b"}")
}

/// A CSV writer (the `csv` crate: RFC 4180, fields quoted only when they need it, `\n` line
/// ends) on `out`; the header is written by [`write_csv_header`].
fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out)
}

fn write_csv_header<W: Write>(csv: &mut csv::Writer<W>, columns: &[Column]) -> io::Result<()> {
    csv.write_record(columns.iter().map(|c| c.name))
        .map_err(csv_io)
}

fn write_csv_rows<W: Write>(csv: &mut csv::Writer<W>, rows: &[Vec<Value>]) -> io::Result<()> {
    for row in rows {
        csv.write_record(row.iter().map(Value::plain))
            .map_err(csv_io)?;
    }
    Ok(())
}

/// The I/O error inside a CSV error as it was (so a closed pipe stays a `BrokenPipe`).
fn csv_io(err: csv::Error) -> io::Error {
    if !err.is_io_error() {
        return io::Error::other(err);
    }
    match err.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// The table of `rows`, fitted to `width` columns when given (cells wrap), else unbounded.
fn write_table(out: &mut dyn Write, rows: &Rows, width: Option<u16>) -> io::Result<()> {
    let shown: Vec<usize> = (0..rows.columns.len())
        .filter(|i| rows.columns[*i].in_table)
        .collect();
    let mut table = ComfyTable::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    match width {
        Some(width) => table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width),
        // No terminal: comfy-table must not look for one on its own.
        None => table
            .set_content_arrangement(ContentArrangement::Disabled)
            .force_no_tty(),
    }
    .set_header(shown.iter().map(|i| rows.columns[*i].name));
    for row in &rows.rows {
        table.add_row(shown.iter().map(|i| {
            let cell = comfy_table::Cell::new(row[*i].plain());
            if row[*i].is_numeric() {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    // Right-align headers of numeric columns too, judged by the first row; when the table is
    // fitted to a width, numbers are never split across lines (text columns wrap instead).
    if let Some(first) = rows.rows.first() {
        for (pos, i) in shown.iter().enumerate() {
            if first[*i].is_numeric()
                && let Some(col) = table.column_mut(pos)
            {
                col.set_cell_alignment(CellAlignment::Right);
                if width.is_some() {
                    col.set_constraint(ColumnConstraint::ContentWidth);
                }
            }
        }
    }
    writeln!(out, "{table}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Rows {
        Rows {
            columns: vec![
                Column {
                    name: "name",
                    in_table: true,
                },
                Column {
                    name: "rate",
                    in_table: true,
                },
                Column {
                    name: "n",
                    in_table: false,
                },
                Column {
                    name: "x",
                    in_table: true,
                },
            ],
            rows: vec![
                vec![
                    Value::Text("a,\"b\"".into()),
                    Value::Decimal("0.00010000".into()),
                    Value::Int(7),
                    Value::Float(1.5),
                ],
                vec![
                    Value::Text("c".into()),
                    Value::Decimal("-1".into()),
                    Value::Int(8),
                    Value::Null,
                ],
            ],
        }
    }

    fn render(format: OutputFormat) -> String {
        let mut out = Vec::new();
        write(&mut out, format, &sample()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_one_array_and_keeps_decimals_exact() {
        let json: serde_json::Value = serde_json::from_str(&render(OutputFormat::Json)).unwrap();
        assert_eq!(json[0]["rate"], "0.00010000");
        assert_eq!(json[0]["n"], 7);
        assert_eq!(json[1]["x"], serde_json::Value::Null);
        let empty = Rows {
            columns: sample().columns,
            rows: vec![],
        };
        let mut out = Vec::new();
        write(&mut out, OutputFormat::Json, &empty).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]\n");
    }

    #[test]
    fn ndjson_is_one_object_per_line() {
        let text = render(OutputFormat::Ndjson);
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(
            render(OutputFormat::Csv),
            "name,rate,n,x\n\"a,\"\"b\"\"\",0.00010000,7,1.5\nc,-1,8,\n"
        );
        let tricky = Rows {
            columns: vec![Column {
                name: "text",
                in_table: true,
            }],
            rows: vec![
                vec![Value::Text("two\nlines".into())],
                vec![Value::Text("cr\r".into())],
                vec![Value::Text(" spaced ".into())],
            ],
        };
        let mut out = Vec::new();
        write(&mut out, OutputFormat::Csv, &tricky).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "text\n\"two\nlines\"\n\"cr\r\"\n spaced \n");
        let read: Vec<String> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap()[0].to_string())
            .collect();
        assert_eq!(read, ["two\nlines", "cr\r", " spaced "]);
    }

    fn table(width: Option<u16>) -> String {
        let mut out = Vec::new();
        write_table(&mut out, &sample(), width).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_hides_machine_columns() {
        let t = table(None);
        assert!(t.contains("rate") && !t.contains(" n "), "{t}");
    }

    fn wide() -> Rows {
        let column = |name| Column {
            name,
            in_table: true,
        };
        Rows {
            columns: vec![column("timestamp"), column("instrument"), column("note")],
            rows: vec![vec![
                Value::Text("2025-01-01T00:00:00Z".into()),
                Value::Text("BTCUSDT-PERP.BINANCE".into()),
                Value::Text("a rather long note that does not fit a narrow terminal".into()),
            ]],
        }
    }

    #[test]
    fn table_fits_the_given_width_and_is_unbounded_without_one() {
        let mut out = Vec::new();
        write_table(&mut out, &wide(), Some(40)).unwrap();
        let fitted = String::from_utf8(out).unwrap();
        for line in fitted.lines() {
            assert!(line.chars().count() <= 40, "line wider than 40: {line:?}");
        }
        assert!(fitted.lines().count() > 5, "cells wrapped:\n{fitted}");

        let mut out = Vec::new();
        write_table(&mut out, &wide(), None).unwrap();
        let unbounded = String::from_utf8(out).unwrap();
        assert_eq!(
            unbounded.lines().count(),
            5,
            "one line per row:\n{unbounded}"
        );
        assert!(unbounded.contains("a rather long note that does not fit a narrow terminal"));
    }

    #[test]
    fn streamed_csv_matches_the_whole_csv() {
        let rows = sample();
        let mut streamed = Vec::new();
        let mut streamer = Streamer::new(OutputFormat::Csv);
        for row in &rows.rows {
            let batch = Rows {
                columns: rows.columns.clone(),
                rows: vec![row.clone()],
            };
            streamer.rows(&mut streamed, &batch).unwrap();
        }
        streamer.finish(&mut streamed).unwrap();
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            render(OutputFormat::Csv)
        );
    }

    #[test]
    fn csv_keeps_a_closed_pipe_a_broken_pipe() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        }
        let err = write(&mut Closed, OutputFormat::Csv, &sample()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}

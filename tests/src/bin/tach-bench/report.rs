//! Figures as a table for people and the very same figures as JSON for
//! tools: a sub-command fills [`Table`]s and one [`Report`], prints them
//! and writes the report, so the two can never disagree.

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Map, Value};

/// One cell: its JSON value and how it is printed.
#[derive(Debug, Clone)]
pub enum Cell {
    /// Text, left-aligned.
    Text(String),
    /// A count, printed with thousands separators.
    Count(u64),
    /// A measurement with this many decimals.
    Number(f64, usize),
    /// Not measured (printed `-`, null in JSON).
    Missing,
}

impl Cell {
    /// Text.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    /// A measurement, or missing when it is not finite (a ratio over zero).
    pub fn number(value: f64, decimals: usize) -> Cell {
        if value.is_finite() {
            Cell::Number(value, decimals)
        } else {
            Cell::Missing
        }
    }

    /// An optional measurement.
    pub fn maybe(value: Option<f64>, decimals: usize) -> Cell {
        value.map_or(Cell::Missing, |value| Cell::number(value, decimals))
    }

    fn json(&self) -> Value {
        match self {
            Cell::Text(text) => Value::from(text.as_str()),
            Cell::Count(count) => Value::from(*count),
            Cell::Number(value, decimals) => {
                let scale = 10f64.powi(*decimals as i32);
                Value::from((value * scale).round() / scale)
            }
            Cell::Missing => Value::Null,
        }
    }

    fn shown(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(count) => thousands(*count),
            Cell::Number(value, 0) => thousands(value.round().max(0.0) as u64),
            Cell::Number(value, decimals) => format!("{value:.decimals$}"),
            Cell::Missing => "-".into(),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A titled table; column names double as the JSON keys of each row.
#[derive(Debug, Clone)]
pub struct Table {
    title: String,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>, columns: &[&'static str]) -> Table {
        Table {
            title: title.into(),
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// Prints the table: the first column left-aligned, the rest right-aligned.
    pub fn print(&self) {
        let shown: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(Cell::shown).collect())
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|column| {
                shown
                    .iter()
                    .map(|row| row[column].chars().count())
                    .chain([self.columns[column].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        println!("\n{}", self.title);
        let line = |cells: Vec<&str>| {
            let text: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(index, (cell, width))| match index {
                    0 => format!("{cell:<width$}"),
                    _ => format!("{cell:>width$}"),
                })
                .collect();
            println!("  {}", text.join("  ").trim_end());
        };
        line(self.columns.clone());
        for row in &shown {
            line(row.iter().map(String::as_str).collect());
        }
    }

    /// The rows as JSON objects keyed by column name.
    pub fn json(&self) -> Value {
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let object: Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(column, cell)| ((*column).to_owned(), cell.json()))
                    .collect();
                Value::Object(object)
            })
            .collect();
        json!({ "title": self.title, "rows": Value::Array(rows) })
    }
}

/// A sub-command's result: its tables and its headline figures.
#[derive(Debug, Clone)]
pub struct Report {
    /// The sub-command.
    pub name: String,
    tables: Vec<Table>,
    figures: Map<String, Value>,
}

impl Report {
    /// An empty report of sub-command `name`.
    pub fn new(name: &str) -> Report {
        Report {
            name: name.to_owned(),
            tables: Vec::new(),
            figures: Map::new(),
        }
    }

    /// Prints a table and keeps it.
    pub fn table(&mut self, table: Table) {
        table.print();
        self.tables.push(table);
    }

    /// Records a headline figure (a ratio, a peak) under `key`.
    pub fn figure(&mut self, key: &str, value: impl Into<Value>) {
        self.figures.insert(key.to_owned(), value.into());
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        json!({
            "bench": self.name,
            "finished_at": chrono::Utc::now().to_rfc3339(),
            "figures": Value::Object(self.figures.clone()),
            "tables": self.tables.iter().map(Table::json).collect::<Vec<_>>(),
        })
    }

    /// Writes [`Report::json`] to `path`, creating its directory.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        write_json(path, &self.json())?;
        println!("\n{}: figures written to {}", self.name, path.display());
        Ok(())
    }
}

/// Writes pretty JSON to `path`, creating its directory.
pub fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// A rounded float for a JSON figure (null when not finite).
pub fn rounded(value: f64, decimals: usize) -> Value {
    Cell::number(value, decimals).json()
}

//! The report: figures formatted as milliseconds, kilobytes and mebibytes,
//! and the table printed to the terminal and written as Markdown.

use std::time::Duration;

pub(crate) fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub(crate) fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[derive(Default)]
pub(crate) struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    pub(crate) fn row(
        &mut self,
        figure: impl Into<String>,
        value: impl Into<String>,
        budget: &str,
        ratio: Option<f64>,
        within: Option<bool>,
    ) {
        self.rows.push([
            figure.into(),
            value.into(),
            budget.to_string(),
            ratio.map_or("—".into(), |r| format!("{r:.2}×")),
            match within {
                Some(true) => "within".into(),
                Some(false) => "OVER BUDGET".into(),
                None => "".into(),
            },
        ]);
    }

    pub(crate) fn print(&self) {
        let head = ["Figure", "Value", "Budget", "vs direct", ""];
        let mut widths = head.map(|h| h.chars().count());
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 5]| {
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!();
        println!("{}", line(&head.map(String::from)));
        println!("{}", "-".repeat(widths.iter().sum::<usize>() + 8));
        for row in &self.rows {
            println!("{}", line(row));
        }
    }

    pub(crate) fn markdown(&self) -> String {
        let mut s =
            String::from("| Figure | Value | Budget | vs direct | |\n|---|---|---|---|---|\n");
        for row in &self.rows {
            s.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        s
    }
}

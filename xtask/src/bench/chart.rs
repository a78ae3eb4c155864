//! The figures' bar chart (`chart.svg`): ours, raw and CPython per figure,
//! seconds per operation on a log scale. The sweeps draw their own
//! (`sweeps.rs`).

use std::path::Path;

use crate::bench::figures::{Column, Row, Unit};
use crate::bench::report::show_sweep_value;
use crate::bench::sweeps::Measured;

/// A bar chart of seconds per operation (log scale): ours, raw and Python
/// side by side for every figure that is a time or a rate.
pub fn chart(rows: &[Row], machine: &str, path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let shown: Vec<&Row> = rows
        .iter()
        .filter(|r| r.figure.unit != Unit::Speedup)
        .collect();
    if shown.is_empty() {
        return Ok(());
    }
    let values: Vec<f64> = shown
        .iter()
        .flat_map(|r| [&r.ours, &r.raw, &r.python])
        .filter_map(|c| match c {
            Column::Measured(s) => Some(s.median),
            Column::Missing(_) => None,
        })
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min) / 3.0;
    let high = values.iter().copied().fold(0.0, f64::max) * 3.0;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (1400, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = shown.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "seconds per operation (log scale; lower is faster)",
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (low..high).log_scale())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("seconds per operation")
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .draw()?;
        // Each group's short name under it (the report's table has the
        // long titles), level, so that every SVG renderer shows it.
        for (i, row) in shown.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64, low));
            let style = ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(row.figure.name, (x, y + 10), style))?;
        }
        const COLUMNS: [(&str, RGBColor); 3] = [
            ("ours (multiproc)", BLUE),
            ("raw (libc)", GREEN),
            ("CPython", RED),
        ];
        for (k, &(label, color)) in COLUMNS.iter().enumerate() {
            let bars: Vec<Rectangle<(f64, f64)>> = shown
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let column = [&r.ours, &r.raw, &r.python][k];
                    let Column::Measured(s) = column else {
                        return None;
                    };
                    let x0 = i as f64 - 0.4 + k as f64 * 0.27;
                    Some(Rectangle::new(
                        [(x0, low), (x0 + 0.25, s.median)],
                        color.filled(),
                    ))
                })
                .collect();
            chart.draw_series(bars)?.label(label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled())
            });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.draw(&Text::new(
            format!("Measured on: {machine}"),
            (20, 540),
            ("sans-serif", 13).into_font(),
        ))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("could not draw the chart: {e}"))
}

/// One sweep's chart: a line per curve, x evenly spaced (its values are
/// powers, so this is a log scale for size), y on a log scale.
pub fn sweep_chart(m: &Measured, machine: &str, path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let all: Vec<f64> = m.values.iter().flatten().flatten().copied().collect();
    if all.is_empty() {
        return Ok(());
    }
    let low = all.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let high = all.iter().copied().fold(0.0, f64::max) * 2.0;
    let sweep = &m.sweep;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = m.xs.len();
        let labels: Vec<String> = m.xs.iter().map(|&x| sweep.show_x(x)).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(sweep.title, ("sans-serif", 18))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), (low..high).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round() as usize;
                if (x - i as f64).abs() < 0.01 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc(sweep.x_label)
            .y_desc(sweep.unit())
            .y_label_formatter(&|y| show_sweep_value(*y))
            .draw()?;
        let colors = [BLUE, CYAN, GREEN, RED, MAGENTA, BLACK];
        for (k, (curve, values)) in sweep.curves.iter().zip(&m.values).enumerate() {
            let color = colors[k % colors.len()];
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    points.clone(),
                    color.stroke_width(2),
                )))?
                .label(curve.label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.draw(&Text::new(
            format!("Measured on: {machine}"),
            (20, 505),
            ("sans-serif", 11).into_font(),
        ))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("could not draw {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::figures::{FIGURES, Summary};

    #[test]
    fn the_chart_names_every_time_or_rate_figure_and_draws_its_bars() {
        let rows: Vec<Row> = FIGURES
            .iter()
            .enumerate()
            .map(|(i, figure)| {
                let at = |k: f64| {
                    Column::Measured(Summary {
                        median: k * 1e-6 * (i + 1) as f64,
                        min: 0.0,
                        max: 0.0,
                    })
                };
                Row {
                    figure: *figure,
                    ours: at(1.0),
                    raw: at(0.5),
                    python: Column::Missing("python3 not found".into()),
                    peers: Vec::new(),
                }
            })
            .collect();
        let path = std::env::temp_dir().join(format!("xtask-chart-{}.svg", std::process::id()));
        chart(&rows, "a test machine", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for figure in FIGURES {
            let shown = figure.unit != Unit::Speedup;
            let label = format!(">\n{}\n<", figure.name);
            assert_eq!(svg.contains(&label), shown, "{}", figure.name);
        }
        assert!(svg.contains("Measured on: a test machine"));
        // Two measured columns for each of the 14 time or rate figures, plus
        // the background and the legend's three swatches and frame.
        let bars = svg.matches("<rect").count();
        assert!(bars >= 28, "{bars} rectangles");
    }
}

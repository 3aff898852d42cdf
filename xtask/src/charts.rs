//! Line charts as standalone SVG text (plotters' SVG backend), to be inlined
//! in HTML pages. Every chart has a title, axis labels with units and a
//! legend; a chart with no data still renders, saying so.

use plotters::coord::combinators::IntoLogRange as _;
use plotters::prelude::*;

use crate::analysis::{DISTRIBUTION_MAX_X, quantile_of_x};

const WIDTH: u32 = 860;
const HEIGHT: u32 = 340;

/// Colour-blind-safe palette (Okabe-Ito), in series order.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

pub struct Line {
    pub name: String,
    /// Points; `None` values break the line (no data in that interval).
    pub points: Vec<(f64, Option<f64>)>,
    pub dashed: bool,
}

impl Line {
    pub fn new(name: impl Into<String>, points: Vec<(f64, Option<f64>)>) -> Self {
        Line {
            name: name.into(),
            points,
            dashed: false,
        }
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

pub enum XAxis {
    /// Linear, e.g. time in seconds.
    Linear { label: String },
    /// Percentile on a log axis: x is 1/(1-q), 1 ..= 10^5.
    Percentile,
    /// Dates (x = seconds since the epoch), labelled as dates.
    Date,
}

pub struct Chart {
    pub title: String,
    pub x: XAxis,
    pub y_label: String,
    pub lines: Vec<Line>,
}

pub fn render(chart: &Chart) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        draw(&root, chart).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

fn chart_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing chart failed: {e:?}")
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw<'a>(root: &Area<'a>, chart: &Chart) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let (x_min, x_max) = x_range(chart);
    let y_max = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let has_data = chart
        .lines
        .iter()
        .any(|l| l.points.iter().any(|p| p.1.is_some()));
    let title = if has_data {
        chart.title.clone()
    } else {
        format!("{} (no data)", chart.title)
    };
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .margin_right(36)
        .x_label_area_size(42)
        .y_label_area_size(64);
    match &chart.x {
        XAxis::Percentile => {
            let mut ctx =
                builder.build_cartesian_2d((1.0..DISTRIBUTION_MAX_X).log_scale(), 0.0..y_max)?;
            ctx.configure_mesh()
                .x_desc("percentile (%)")
                .y_desc(&chart.y_label)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .light_line_style(BLACK.mix(0.04))
                .x_label_formatter(&|x| format_percentile(*x))
                .draw()?;
            draw_lines(&mut ctx, chart)?;
            legend(&mut ctx)?;
        }
        XAxis::Linear { label } => {
            let mut ctx = builder.build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
            ctx.configure_mesh()
                .x_desc(label.as_str())
                .y_desc(&chart.y_label)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .light_line_style(BLACK.mix(0.04))
                .draw()?;
            draw_lines(&mut ctx, chart)?;
            legend(&mut ctx)?;
        }
        XAxis::Date => {
            let mut ctx = builder.build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
            ctx.configure_mesh()
                .x_desc("run date (UTC)")
                .y_desc(&chart.y_label)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .light_line_style(BLACK.mix(0.04))
                .x_labels(6)
                .x_label_formatter(&|x| {
                    chrono::DateTime::from_timestamp(*x as i64, 0)
                        .map(|d| d.format("%m-%d %H:%M").to_string())
                        .unwrap_or_default()
                })
                .draw()?;
            draw_lines(&mut ctx, chart)?;
            legend(&mut ctx)?;
        }
    }
    Ok(())
}

fn x_range(chart: &Chart) -> (f64, f64) {
    let xs = chart
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0));
    let (min, max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !min.is_finite() || !max.is_finite() {
        (0.0, 1.0)
    } else if (max - min).abs() < f64::EPSILON {
        (min - 0.5, max + 0.5)
    } else {
        (min, max)
    }
}

/// 1/(1-q) back to a percentile label: 1 -> "0", 10 -> "90", 1000 -> "99.9".
fn format_percentile(x: f64) -> String {
    let p = quantile_of_x(x) * 100.0;
    let s = format!("{p:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn draw_lines<'a, X, Y>(
    ctx: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    chart: &Chart,
) -> Result<(), Box<dyn std::error::Error + 'a>>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    for (i, line) in chart.lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let style = colour.stroke_width(2);
        let mut first = true;
        // Sparse series (trends across runs) also get a marker per point, so
        // a single run still shows.
        let present = line.points.iter().filter(|p| p.1.is_some()).count();
        if present <= 60 {
            let points = line
                .points
                .iter()
                .filter_map(|&(x, y)| y.filter(|y| y.is_finite()).map(|y| (x, y)));
            ctx.draw_series(points.map(|p| Circle::new(p, 3, colour.filled())))?;
        }
        for segment in segments(&line.points) {
            let anno = if line.dashed {
                ctx.draw_series(DashedLineSeries::new(segment, 6, 4, style))?
            } else {
                ctx.draw_series(LineSeries::new(segment, style))?
            };
            if first {
                anno.label(line.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
                first = false;
            }
        }
        if first {
            // No points at all: keep the entry in the legend so the reader
            // sees the series exists but recorded nothing.
            ctx.draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                .label(format!("{} (none)", line.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
    }
    Ok(())
}

/// Splits a series at missing values; a lone point becomes a tiny segment
/// so it stays visible.
fn segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        match y {
            Some(y) if y.is_finite() => current.push((x, y)),
            _ => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    for seg in &mut out {
        if seg.len() == 1 {
            let (x, y) = seg[0];
            seg.push((x, y));
        }
    }
    out
}

fn legend<'a, X, Y>(
    ctx: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> Result<(), Box<dyn std::error::Error + 'a>>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_read_as_percentiles() {
        assert_eq!(format_percentile(1.0), "0");
        assert_eq!(format_percentile(10.0), "90");
        assert_eq!(format_percentile(1000.0), "99.9");
        assert_eq!(format_percentile(100_000.0), "99.999");
    }

    #[test]
    fn chart_has_title_axes_and_legend() {
        let svg = render(&Chart {
            title: "Latency over time".into(),
            x: XAxis::Linear {
                label: "time (s)".into(),
            },
            y_label: "latency (ms)".into(),
            lines: vec![
                Line::new("p50", vec![(0.0, Some(1.0)), (1.0, None), (2.0, Some(2.0))]),
                Line::new("p99", vec![(0.0, Some(3.0)), (1.0, Some(4.0))]).dashed(),
            ],
        })
        .unwrap();
        for text in [
            "Latency over time",
            "time (s)",
            "latency (ms)",
            "p50",
            "p99",
        ] {
            assert!(svg.contains(text), "{text} missing from chart");
        }
        assert!(svg.starts_with("<svg"));
    }

    #[test]
    fn empty_chart_says_no_data() {
        let svg = render(&Chart {
            title: "Errors".into(),
            x: XAxis::Linear {
                label: "time (s)".into(),
            },
            y_label: "count".into(),
            lines: vec![Line::new("errors", vec![])],
        })
        .unwrap();
        assert!(svg.contains("Errors (no data)"));
    }
}

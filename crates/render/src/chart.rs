//! Charts (`plotters`), the one module every command draws its figures with: line charts with
//! optional 95% interval bars (deletion curves, detection curves) and horizontal bar charts
//! with interval whiskers (LDS per method), each as SVG or PNG. Text is set in DejaVu Sans,
//! shipped in `fonts/` with its licence, so PNGs need no system fonts.

use image::RgbImage;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::sync::Once;

/// The font family every chart uses (registered from the shipped TTF on first use).
const FAMILY: &str = "sans-serif";
static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // The shipped font is valid, so this cannot fail; if it ever did, text would be
        // missing from the chart and plotters reports a font error at drawing time.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, include_bytes!("../fonts/DejaVuSans.ttf"));
    });
}

/// Errors while drawing a chart.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart `{title}`: {what}")]
pub struct ChartError {
    /// The chart's title.
    pub title: String,
    /// What went wrong.
    pub what: String,
}

/// One line of a [`LineChart`]: points `(x, y)` and, optionally, a 95% interval half-width at
/// each point (drawn as a vertical bar).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Interval half-widths, one per point (NaN: no bar there).
    pub half_widths: Option<Vec<f64>>,
}

/// A line chart: one line per series on shared axes, with a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Axis ranges; `None` fits the data (intervals included).
    pub x_range: Option<(f64, f64)>,
    /// See `x_range`.
    pub y_range: Option<(f64, f64)>,
}

/// One bar of a [`BarChart`]: a value with an optional 95% interval half-width.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label on the category axis.
    pub label: String,
    /// Bar length.
    pub value: f64,
    /// Interval half-width (NaN or `None`: no whisker).
    pub half_width: Option<f64>,
}

/// A horizontal bar chart, one bar per category from top to bottom, with interval whiskers.
///
/// ```
/// use genrep_render::chart::{Bar, BarChart, Chart};
/// let chart = BarChart {
///     title: "LDS per method".into(),
///     x_label: "LDS".into(),
///     bars: vec![
///         Bar { label: "influence".into(), value: 0.51, half_width: Some(0.04) },
///         Bar { label: "random".into(), value: -0.01, half_width: None },
///     ],
/// };
/// let svg = chart.to_svg()?;
/// assert!(svg.starts_with("<svg") && svg.contains("influence") && svg.contains("LDS per method"));
/// # Ok::<(), genrep_render::chart::ChartError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the value axis.
    pub x_label: String,
    /// The bars, top first.
    pub bars: Vec<Bar>,
}

/// Chart size in pixels.
const SIZE: (u32, u32) = (900, 560);

fn span(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

fn err<E: std::fmt::Display>(title: &str) -> impl Fn(E) -> ChartError + '_ {
    move |e| ChartError { title: title.to_string(), what: e.to_string() }
}

/// A chart drawable on any plotters backend; SVG and PNG output come with it.
pub trait Chart {
    /// The caption (for error messages).
    fn title(&self) -> &str;

    /// Draws the chart on `root`.
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), ChartError>;

    /// The chart as a standalone SVG document.
    fn to_svg(&self) -> Result<String, ChartError> {
        let mut s = String::new();
        self.draw(SVGBackend::with_string(&mut s, SIZE).into_drawing_area())?;
        Ok(s)
    }

    /// The chart as an RGB image (save it with [`crate::save_png`]).
    fn to_png(&self) -> Result<RgbImage, ChartError> {
        let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
        self.draw(BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area())?;
        RgbImage::from_raw(SIZE.0, SIZE.1, buf)
            .ok_or_else(|| ChartError { title: self.title().to_string(), what: "buffer size".into() })
    }

    /// Writes the chart as `<stem>.svg` and `<stem>.png` into `dir`, atomically.
    fn save(&self, dir: &std::path::Path, stem: &str) -> Result<(), ChartError> {
        let fail = |what: String| ChartError { title: self.title().to_string(), what };
        let svg = dir.join(format!("{stem}.svg"));
        genrep_models::write_atomic(&svg, self.to_svg()?.as_bytes())
            .map_err(|e| fail(format!("cannot write {}: {e}", svg.display())))?;
        crate::save_png(&self.to_png()?, &dir.join(format!("{stem}.png"))).map_err(|e| fail(e.to_string()))
    }
}

impl Chart for LineChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), ChartError> {
        register_font();
        let e = err(&self.title);
        let half = |s: &Series, i: usize| s.half_widths.as_ref().and_then(|h| h.get(i)).copied().unwrap_or(f64::NAN);
        let x =
            self.x_range.unwrap_or_else(|| span(self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), false));
        let y = self.y_range.unwrap_or_else(|| {
            span(
                self.series.iter().flat_map(|s| {
                    s.points.iter().enumerate().flat_map(move |(i, p)| {
                        let h = half(s, i);
                        let h = if h.is_finite() { h } else { 0.0 };
                        [p.1 - h, p.1 + h]
                    })
                }),
                true,
            )
        });
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FAMILY, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&e)?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                .map_err(&e)?
                .label(&s.name)
                .legend(move |(px, py)| PathElement::new(vec![(px, py), (px + 20, py)], color.stroke_width(3)));
            chart
                .draw_series(s.points.iter().enumerate().filter_map(|(j, &(px, py))| {
                    let h = half(s, j);
                    h.is_finite().then(|| ErrorBar::new_vertical(px, py - h, py, py + h, color.stroke_width(1), 8))
                }))
                .map_err(&e)?;
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(&e)?;
        root.present().map_err(&e)
    }
}

impl Chart for BarChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), ChartError> {
        register_font();
        let e = err(&self.title);
        let n = self.bars.len().max(1);
        let whisker = |b: &Bar| b.half_width.filter(|h| h.is_finite());
        let x = span(
            self.bars.iter().flat_map(|b| {
                let h = whisker(b).unwrap_or(0.0);
                [b.value - h, b.value + h]
            }),
            true,
        );
        let labels: Vec<String> = self.bars.iter().map(|b| b.label.clone()).collect();
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size((8 * longest + 16).min(360))
            // An integer range is inclusive in plotters: 0..n-1 gives the n rows.
            .build_cartesian_2d(x.0..x.1, (0..n - 1).into_segmented())
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .label_style((FAMILY, 14))
            .y_labels(n)
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                // Row 0 at the top.
                SegmentValue::CenterOf(i) => labels.get(n - 1 - i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&e)?;
        let color = Palette99::pick(0).to_rgba();
        chart
            .draw_series(self.bars.iter().enumerate().map(|(i, b)| {
                let row = n - 1 - i;
                let mut r = Rectangle::new(
                    [(0.0, SegmentValue::Exact(row)), (b.value, SegmentValue::Exact(row + 1))],
                    color.filled(),
                );
                r.set_margin(5, 5, 0, 0);
                r
            }))
            .map_err(&e)?;
        chart
            .draw_series(self.bars.iter().enumerate().filter_map(|(i, b)| {
                let h = whisker(b)?;
                let row = n - 1 - i;
                Some(ErrorBar::new_horizontal(
                    SegmentValue::CenterOf(row),
                    b.value - h,
                    b.value,
                    b.value + h,
                    BLACK.stroke_width(1),
                    10,
                ))
            }))
            .map_err(&e)?;
        root.present().map_err(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> LineChart {
        LineChart {
            title: "DEL curves".into(),
            x_label: "k".into(),
            y_label: "mean DEL".into(),
            series: vec![
                Series {
                    name: "alpha".into(),
                    points: vec![(0.0, 0.0), (1.0, 2.0)],
                    half_widths: Some(vec![0.0, 0.5]),
                },
                Series { name: "beta".into(), points: vec![(0.0, 0.0), (1.0, -1.0)], half_widths: None },
            ],
            x_range: None,
            y_range: None,
        }
    }

    #[test]
    fn line_chart_has_title_labels_legend_and_intervals() {
        let svg = chart().to_svg().unwrap();
        // plotters puts every label on its own line inside <text>.
        for text in ["DEL curves", "mean DEL", "k", "alpha", "beta"] {
            assert!(svg.contains(&format!("\n{text}\n</text>")), "{text} missing from the SVG");
        }
        // Two lines, plus the interval bar at k = 1 of alpha (and not of beta).
        assert!(svg.matches("<polyline").count() >= 3, "{svg}");
        let png = chart().to_png().unwrap();
        assert_eq!(png.dimensions(), SIZE);
        // Text and lines were drawn: the image is not blank white.
        let dark = png.pixels().filter(|p| p.0.iter().all(|&c| c < 100)).count();
        assert!(dark > 500, "{dark} dark pixels");
    }

    #[test]
    fn bar_chart_orders_bars_top_down_with_whiskers() {
        let chart = BarChart {
            title: "LDS".into(),
            x_label: "LDS".into(),
            bars: vec![
                Bar { label: "influence".into(), value: 0.4, half_width: Some(0.1) },
                Bar { label: "random".into(), value: -0.05, half_width: Some(f64::NAN) },
            ],
        };
        let svg = chart.to_svg().unwrap();
        for text in ["influence", "random", "LDS"] {
            assert!(svg.contains(&format!("\n{text}\n</text>")), "{text} missing from the SVG");
        }
        // The first bar's label is drawn above the second's.
        let y_of = |label: &str| -> f64 {
            let at = svg.find(&format!("\n{label}\n</text>")).unwrap();
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y = tag.split("y=\"").nth(1).unwrap();
            y[..y.find('"').unwrap()].parse().unwrap()
        };
        assert!(y_of("influence") < y_of("random"));
        assert_eq!(chart.to_png().unwrap().dimensions(), SIZE);
    }
}

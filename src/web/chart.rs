//! Charts drawn on the server as SVG by `plotters`, each with a text alternative: the SVG is an
//! image whose `<title>` and `<desc>` say what it shows (the page puts the same numbers in a
//! table beside it).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The chart's colours: the site's accent and a dark orange, both readable on white.
const SERIES_COLOURS: [RGBColor; 2] = [RGBColor(11, 83, 148), RGBColor(176, 90, 0)];

/// What a chart says about itself, for screen readers and as the image's tooltip.
pub struct Caption<'a> {
    /// Unique in the page: the ids of `<title>` and `<desc>` derive from it.
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
}

/// A series of a [`columns`] chart: its name and one value per category.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
}

/// Vertical bars, one group per category, one bar per series (a legend when there are two or
/// more). `y_label` names the values' unit.
pub fn columns(
    caption: &Caption,
    categories: &[String],
    series: &[Series],
    y_label: &str,
) -> String {
    let mut svg = String::new();
    let drawn = {
        let width = (categories.len() as u32 * 60).clamp(640, 1100);
        let root = SVGBackend::with_string(&mut svg, (width, 340)).into_drawing_area();
        draw_columns(&root, categories, series, y_label)
    };
    finish(svg, drawn, caption)
}

/// Horizontal bars, one per category (long labels read better across).
pub fn rows(caption: &Caption, categories: &[String], values: &[f64], x_label: &str) -> String {
    let mut svg = String::new();
    let drawn = {
        let height = (categories.len() as u32 * 34 + 80).max(160);
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        draw_rows(&root, categories, values, x_label)
    };
    finish(svg, drawn, caption)
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn draw_columns(
    root: &DrawingArea<SVGBackend, Shift>,
    categories: &[String],
    series: &[Series],
    y_label: &str,
) -> Drawn {
    root.fill(&WHITE)?;
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    // Headroom above the tallest bar; more with a legend, which sits in the upper right.
    let headroom = if series.len() > 1 { 1.45 } else { 1.1 };
    let top = if top > 0.0 { top * headroom } else { 1.0 };
    // Counts (households) are whole: their axis names whole numbers only, never "0,2 hộ".
    let whole = series
        .iter()
        .flat_map(|s| s.values.iter())
        .all(|v| v.fract() == 0.0);
    let n = categories.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_label)
        .y_label_formatter(&|y| axis_label(*y, whole))
        .label_style(("sans-serif", 17))
        .draw()?;
    // Category names under the middle of their group (the mesh would label round numbers).
    let style =
        TextStyle::from(("sans-serif", 17).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, category) in categories.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(category.clone(), (x, y + 8), style.clone()))?;
    }
    let width = 0.8 / series.len().max(1) as f64;
    for (k, s) in series.iter().enumerate() {
        let colour = SERIES_COLOURS[k % SERIES_COLOURS.len()];
        let bars = s.values.iter().enumerate().map(|(i, v)| {
            let left = i as f64 + 0.1 + k as f64 * width;
            Rectangle::new([(left, 0.0), (left + width * 0.95, *v)], colour.filled())
        });
        let drawn = chart.draw_series(bars)?;
        if series.len() > 1 {
            drawn.label(s.name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
            });
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 17))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn draw_rows(
    root: &DrawingArea<SVGBackend, Shift>,
    categories: &[String],
    values: &[f64],
    x_label: &str,
) -> Drawn {
    root.fill(&WHITE)?;
    let top = values.iter().copied().fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let n = categories.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(210)
        .build_cartesian_2d(0.0..top, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_label)
        .x_label_formatter(&|x| number(*x))
        .label_style(("sans-serif", 17))
        .draw()?;
    // Category names left of their bar, the first at the top.
    let style =
        TextStyle::from(("sans-serif", 17).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, category) in categories.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5));
        root.draw(&Text::new(category.clone(), (x - 8, y), style.clone()))?;
    }
    let colour = SERIES_COLOURS[0];
    chart.draw_series(values.iter().enumerate().map(|(i, v)| {
        let row = (n - 1 - i) as f64;
        Rectangle::new([(0.0, row + 0.15), (*v, row + 0.85)], colour.filled())
    }))?;
    root.present()?;
    Ok(())
}

/// The label of an axis tick: none for a fraction on an axis of whole counts.
fn axis_label(v: f64, whole: bool) -> String {
    if whole && (v - v.round()).abs() >= 1e-9 {
        String::new()
    } else {
        number(v)
    }
}

/// An axis number: whole when it is one, else one decimal, with Vietnamese separators.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        group(v.round() as i64)
    } else {
        let tenths = (v * 10.0).round() as i64;
        format!("{},{}", group(tenths / 10), (tenths % 10).abs())
    }
}

fn group(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The SVG as an image named by its `<title>` and `<desc>`; without a chart when plotters
/// failed (the table beside it still has the numbers).
fn finish(svg: String, drawn: Drawn, caption: &Caption) -> String {
    if let Err(e) = drawn {
        tracing::error!(error = %e, chart = caption.id, "a chart could not be drawn");
        return String::new();
    }
    let (title_id, desc_id) = (
        format!("{}-title", caption.id),
        format!("{}-desc", caption.id),
    );
    let Some(open_end) = svg.find('>') else {
        return String::new();
    };
    let head = svg[..open_end].replacen(
        "<svg",
        &format!(
            "<svg role=\"img\" aria-labelledby=\"{title_id} {desc_id}\" \
             preserveAspectRatio=\"xMinYMin meet\""
        ),
        1,
    );
    format!(
        "{head}>\n<title id=\"{title_id}\">{}</title>\n<desc id=\"{desc_id}\">{}</desc>{}",
        escape(caption.title),
        escape(caption.description),
        &svg[open_end + 1..]
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_image_with_a_title_and_a_description() {
        let caption = Caption {
            id: "by-month",
            title: "Số tiền theo tháng",
            description: "2024-03: 1 & <2>",
        };
        let svg = columns(
            &caption,
            &["2024-03".into(), "2024-04".into()],
            &[Series {
                name: "VND",
                values: vec![1.5, 30.0],
            }],
            "triệu đồng",
        );
        assert!(
            svg.starts_with("<svg role=\"img\" aria-labelledby=\"by-month-title by-month-desc\""),
            "{svg}"
        );
        assert!(svg.contains("<title id=\"by-month-title\">Số tiền theo tháng</title>"));
        assert!(svg.contains("1 &amp; &lt;2&gt;"));
        assert!(svg.contains("2024-04"), "{svg}");
        assert!(svg.contains("<rect"), "{svg}");
        let svg = rows(&caption, &["Tín dụng ưu đãi".into()], &[12.0], "triệu đồng");
        assert!(svg.contains("Tín dụng ưu đãi"), "{svg}");
        // No data still draws an empty frame.
        assert!(rows(&caption, &[], &[], "x").contains("<svg"));
    }

    #[test]
    fn an_axis_of_counts_names_whole_numbers_only() {
        assert_eq!(axis_label(0.4, true), "");
        assert_eq!(axis_label(1.0, true), "1");
        assert_eq!(axis_label(0.4, false), "0,4");
        let chart = columns(
            &Caption {
                id: "counts",
                title: "t",
                description: "d",
            },
            &["a".to_owned(), "b".to_owned()],
            &[Series {
                name: "hộ",
                values: vec![0.0, 1.0],
            }],
            "hộ",
        );
        let labels: Vec<&str> = chart
            .split("<text")
            .skip(1)
            .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim()))
            .collect();
        assert!(labels.contains(&"1"), "{labels:?}");
        assert!(!labels.iter().any(|l| l.contains(',')), "{labels:?}");
    }

    #[test]
    fn axis_numbers_read_the_vietnamese_way() {
        assert_eq!(number(1234567.0), "1.234.567");
        assert_eq!(number(2.5), "2,5");
        assert_eq!(number(0.0), "0");
    }
}

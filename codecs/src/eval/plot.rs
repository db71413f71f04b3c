//! A rate–distortion plot (PSNR against bpp) as a standalone SVG.
//!
//! Drawn by hand rather than with a plotting crate: the picture is a handful of lines and
//! labels, and plain SVG text needs no font files, so it renders the same everywhere.

use std::fmt::Write;

use crate::error::Result;
use crate::eval::{Anchor, Report};

const W: f64 = 900.0;
const H: f64 = 600.0;
const L: f64 = 70.0;
const R: f64 = 230.0;
const T: f64 = 40.0;
const B: f64 = 60.0;

/// Anchors drawn by default, with their colours (others in the file are skipped).
const SHOWN: &[(&str, &str)] = &[
    ("jpeg420", "#999999"),
    ("webp", "#66a61e"),
    ("jxl", "#e6ab02"),
    ("avif", "#7570b3"),
    ("bmshj2018-factorized", "#a6761d"),
    ("bmshj2018-hyperprior", "#1b9e77"),
    ("mbt2018-mean", "#e7298a"),
    ("vtm_compressai", "#000000"),
];

/// Name, colour, points, and whether it is the model's own curve.
type Series = (String, String, Vec<(f64, f64)>, bool);

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Draws the model's curve (thick red) over the anchors, PSNR (dB) against bpp.
///
/// # Errors
/// Never in practice; formatting into a `String` cannot fail.
pub fn rd_plot_svg(report: &Report, anchors: &[Anchor]) -> Result<String> {
    let ours: Vec<(f64, f64)> = report.points.iter().map(|p| (p.bpp, p.psnr)).collect();
    let mut series: Vec<Series> = SHOWN
        .iter()
        .filter_map(|(n, c)| {
            let a = anchors.iter().find(|a| a.name == *n)?;
            Some((
                n.to_string(),
                c.to_string(),
                a.points.iter().map(|p| (p.0, p.1)).collect(),
                false,
            ))
        })
        .collect();
    // Anchors from a user's own file (not in the list above) are drawn too.
    for a in anchors
        .iter()
        .filter(|a| anchors.len() <= 3 && !SHOWN.iter().any(|s| s.0 == a.name))
    {
        series.push((
            a.name.clone(),
            "#1f78b4".into(),
            a.points.iter().map(|p| (p.0, p.1)).collect(),
            false,
        ));
    }
    series.push((
        format!("ncodec {}", report.model),
        "#d62728".into(),
        ours.clone(),
        true,
    ));

    // Axes: bpp 0..max(ours)*1.15 (at least 1.0), PSNR range of what is visible.
    let xmax = ours.iter().map(|p| p.0).fold(1.0f64, f64::max) * 1.1;
    let visible = series
        .iter()
        .flat_map(|s| s.2.iter())
        .filter(|p| p.0 <= xmax);
    let (mut ymin, mut ymax) =
        visible.fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if ymin > ymax {
        (ymin, ymax) = (20.0, 40.0);
    }
    let (ymin, ymax) = ((ymin - 1.0).floor(), (ymax + 1.0).ceil());
    let px = |x: f64| L + (x / xmax) * (W - L - R);
    let py = |y: f64| H - B - (y - ymin) / (ymax - ymin) * (H - T - B);

    let dataset = std::path::Path::new(&report.dataset)
        .file_name()
        .map_or_else(
            || report.dataset.clone(),
            |n| n.to_string_lossy().into_owned(),
        );
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" font-size="16" text-anchor="middle">{} on {} ({} images)</text>"#,
        (L + W - R) / 2.0,
        esc(&report.model),
        esc(&dataset),
        report.images
    );
    // Grid and ticks.
    let xstep = if xmax > 2.0 { 0.5 } else { 0.25 };
    let mut x = 0.0;
    while x <= xmax + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#e5e5e5"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4}</text>"##,
            px(x),
            T,
            H - B,
            H - B + 18.0,
            x
        );
        x += xstep;
    }
    let ystep = if ymax - ymin > 16.0 { 4.0 } else { 2.0 };
    let mut y = (ymin / ystep).ceil() * ystep;
    while y <= ymax + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#e5e5e5"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            py(y),
            W - R,
            L - 6.0,
            py(y) + 4.0,
            y
        );
        y += ystep;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        W - L - R,
        H - T - B
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">bits per pixel (whole file)</text>"#,
        (L + W - R) / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(20,{}) rotate(-90)" text-anchor="middle">PSNR RGB (dB)</text>"#,
        (T + H - B) / 2.0
    );
    // Curves, clipped to the plot area.
    let _ = writeln!(
        s,
        r#"<clipPath id="area"><rect x="{L}" y="{T}" width="{}" height="{}"/></clipPath>"#,
        W - L - R,
        H - T - B
    );
    for (i, (name, color, pts, ours)) in series.iter().enumerate() {
        let mut pts = pts.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
            .collect();
        let width = if *ours { 3.0 } else { 1.5 };
        let _ = writeln!(
            s,
            r#"<g clip-path="url(#area)"><polyline points="{}" fill="none" stroke="{color}" stroke-width="{width}"/>"#,
            path.join(" ")
        );
        for p in &pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{color}"/>"#,
                px(p.0),
                py(p.1),
                if *ours { 4.0 } else { 2.5 }
            );
        }
        let _ = writeln!(s, "</g>");
        let ly = T + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="{width}"/><text x="{}" y="{}">{}</text>"#,
            W - R + 12.0,
            W - R + 36.0,
            W - R + 42.0,
            ly + 4.0,
            esc(name)
        );
    }
    let _ = writeln!(s, "</svg>");
    Ok(s)
}

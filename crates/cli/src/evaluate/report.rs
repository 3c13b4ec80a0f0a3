//! The results of `kerascam evaluate`: per photo, per method, and their summary as a table
//! (mean ± standard deviation over the photos, population form) or JSON.

use serde::Serialize;

/// One photo's metrics for one method (a metric not asked for, or without a box, is absent).
#[derive(Debug, Default, Serialize)]
pub struct PhotoScores {
    /// The photo.
    pub image: String,
    /// The explained class (the top-1 class).
    pub class: usize,
    /// Its score on the photo (the model output: a probability for a softmax head).
    pub score: f32,
    /// Whether the map's maximum lies within 15 px of a box.
    pub pointing_hit: Option<bool>,
    /// The map's maximum `[x, y]` in photo pixels.
    pub point: Option<[usize; 2]>,
    /// Deletion AUC.
    pub deletion: Option<f32>,
    /// Insertion AUC.
    pub insertion: Option<f32>,
    /// ROAD, most relevant first (mean over percentiles).
    pub road_morf: Option<f32>,
    /// ROAD, least relevant first.
    pub road_lerf: Option<f32>,
    /// ROAD combined.
    pub road_combined: Option<f32>,
    /// Drop in confidence.
    pub drop_in_confidence: Option<f32>,
    /// Increase in confidence (0 or 1).
    pub increase_in_confidence: Option<f32>,
}

/// The rows of the table: JSON key, label, and the field they read.
type Field = fn(&PhotoScores) -> Option<f32>;
const ROWS: [(&str, &str, Field); 8] = [
    ("pointing", "pointing game (hit rate) ↑", |p| {
        p.pointing_hit.map(|h| if h { 1.0 } else { 0.0 })
    }),
    ("deletion", "deletion AUC ↓", |p| p.deletion),
    ("insertion", "insertion AUC ↑", |p| p.insertion),
    ("road_morf", "ROAD MoRF ↓", |p| p.road_morf),
    ("road_lerf", "ROAD LeRF ↑", |p| p.road_lerf),
    ("road_combined", "ROAD combined ↑", |p| p.road_combined),
    ("drop_in_confidence", "drop in confidence ↓", |p| {
        p.drop_in_confidence
    }),
    (
        "increase_in_confidence",
        "increase in confidence ↑",
        |p| p.increase_in_confidence,
    ),
];

/// Mean, standard deviation and count of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// The metric's key (`pointing`, `deletion`, …).
    pub metric: &'static str,
    /// Its label in the table.
    #[serde(skip)]
    pub label: &'static str,
    /// Mean over the photos.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Photos counted.
    pub photos: usize,
}

impl Summary {
    fn of(metric: &'static str, label: &'static str, values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Some(Summary {
            metric,
            label,
            mean,
            std: var.sqrt(),
            photos: values.len(),
        })
    }
}

/// A photo that could not be evaluated.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// The photo.
    pub image: String,
    /// Why.
    pub error: String,
}

/// Everything one method gave on the photo set.
#[derive(Debug, Serialize)]
pub struct MethodReport {
    /// The method's name.
    pub method: String,
    /// The target layer of the first photo explained; several fused layers as "first … last
    /// (N fused)"; `None` for a pixel-level method.
    pub layer: Option<String>,
    /// Photos evaluated.
    pub photos: usize,
    /// Each computed metric's summary, in table order.
    pub metrics: Vec<Summary>,
    /// Photos the pointing game skipped because the boxes file does not name them.
    pub photos_without_box: Vec<String>,
    /// Photos that failed.
    pub failed: Vec<Failure>,
    /// Each photo's metrics.
    pub per_photo: Vec<PhotoScores>,
}

impl MethodReport {
    /// Summarises `per_photo`.
    pub fn new(
        method: &str,
        layer: Option<String>,
        per_photo: Vec<PhotoScores>,
        photos_without_box: Vec<String>,
        failed: Vec<Failure>,
    ) -> MethodReport {
        let metrics = ROWS
            .iter()
            .filter_map(|&(key, label, field)| {
                let values: Vec<f64> = per_photo.iter().filter_map(field).map(f64::from).collect();
                Summary::of(key, label, &values)
            })
            .collect();
        MethodReport {
            method: method.into(),
            layer,
            photos: per_photo.len(),
            metrics,
            photos_without_box,
            failed,
            per_photo,
        }
    }

    /// The human table.
    pub fn table(&self) -> String {
        let layer = self.layer.as_deref().unwrap_or("-");
        let mut out = format!(
            "method {} · layer {layer} · {} photo(s)\n{:<28} {:>17} {:>7}\n",
            self.method, self.photos, "metric", "mean ± std", "photos"
        );
        for s in &self.metrics {
            let cell = format!("{:.4} ± {:.4}", s.mean, s.std);
            out += &format!("{:<28} {cell:>17} {:>7}\n", s.label, s.photos);
        }
        if !self.photos_without_box.is_empty() {
            out += &format!(
                "no box (pointing game skipped): {}\n",
                self.photos_without_box.join(", ")
            );
        }
        for f in &self.failed {
            out += &format!("failed: {}: {}\n", f.image, f.error);
        }
        out
    }
}

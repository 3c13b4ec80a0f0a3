//! Captioned panels a person can read without the JSON: a row of equally sized tiles, each
//! with its caption below (class name and probability under the photo; method and layer under
//! each map), and a colour bar labelled with its values 1, 0.5 and 0.
//!
//! | layout | width | height |
//! |---|---|---|
//! | [`captioned_row`] of `n` tiles `W × H` | `n W + (n − 1) PANEL_GAP` (+ [`labelled_colorbar_width`]) | `H +` [`caption_height`]`(most lines)` |
//! | [`method_panel`] | the row of the photo and one overlay per method | the same |
//! | [`explained_panel`] | the row `photo │ heatmap │ overlay` | the same |

use image::RgbImage;

use crate::caption::{
    caption_height, draw_text, line_height, text_width, with_caption, TEXT_COLOR,
};
use crate::colormap::Colormap;
use crate::error::{OverlayError, Result};
use crate::heatmap::Heatmap;
use crate::panel::{append_colorbar, with_colorbar_width, BACKGROUND, PANEL_GAP};
use crate::render::{render, OverlayOptions};
use crate::resize::resize_bilinear;

/// The colour bar's labels and the values they stand at.
const LABELS: [&str; 3] = ["1", "0.5", "0"];

/// One tile of a captioned row: a picture and the lines written under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// The picture.
    pub image: RgbImage,
    /// Caption lines, top to bottom (each cut to the tile's width).
    pub caption: Vec<String>,
}

/// What a panel says about the explained class, under the photo.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassCaption {
    /// The class name (or `class N` when there are no labels).
    pub class: String,
    /// The model's probability of that class.
    pub probability: f32,
}

impl ClassCaption {
    fn lines(&self) -> Vec<String> {
        vec![self.class.clone(), format!("p = {:.3}", self.probability)]
    }
}

/// One method's heatmap, for a tile captioned with the method and layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodMap<'a> {
    /// The method's name (`grad-cam`, `guided-backprop`, …).
    pub method: &'a str,
    /// The layer it explains at; `None` for the pixel-level methods.
    pub layer: Option<&'a str>,
    /// Its map in [0, 1], at any resolution (resized to the photo).
    pub heatmap: &'a Heatmap,
}

impl MethodMap<'_> {
    fn lines(&self) -> Vec<String> {
        let layer = match self.layer {
            Some(layer) => format!("layer {layer}"),
            None => "input pixels".to_string(),
        };
        vec![self.method.to_string(), layer]
    }
}

/// Width the labels right of the colour bar's ticks take (the widest label and 2 pixels).
pub fn labelled_colorbar_width() -> Result<u32> {
    let widest = LABELS
        .iter()
        .map(|l| text_width(l))
        .collect::<Result<Vec<f32>>>()?
        .into_iter()
        .fold(0f32, f32::max);
    Ok(widest.ceil() as u32 + 2)
}

/// [`append_colorbar`] followed by a column of labels: "1" level with the top tick, "0.5"
/// centred on the middle one and "0" level with the bottom one (labels that do not fit an
/// image this short are clipped).
pub fn append_labelled_colorbar(image: &RgbImage, colormap: Colormap) -> Result<RgbImage> {
    let bar = append_colorbar(image, colormap)?;
    let labels = labelled_colorbar_width()?;
    let width = bar
        .width()
        .checked_add(labels)
        .ok_or(OverlayError::WidthOverflow {
            what: "labelled colour bar",
            width: u64::from(bar.width()) + u64::from(labels),
        })?;
    let mut out = RgbImage::from_pixel(width, bar.height(), BACKGROUND);
    image::imageops::replace(&mut out, &bar, 0, 0);
    let line = i64::from(line_height()?);
    let height = i64::from(bar.height());
    let left = i64::from(bar.width()) + 1;
    for (label, top) in LABELS
        .into_iter()
        .zip([0, (height - line) / 2, height - line])
    {
        draw_text(&mut out, label, left, top, TEXT_COLOR)?;
    }
    Ok(out)
}

/// Size of [`captioned_row`] for `tiles` tiles of `width × height` with captions of at most
/// `lines` lines, with or without the colour bar.
pub fn captioned_row_size(
    tiles: u32,
    (width, height): (u32, u32),
    lines: usize,
    colorbar: bool,
) -> Result<(u32, u32)> {
    let overflow = |what| OverlayError::WidthOverflow {
        what,
        width: u64::from(tiles) * (u64::from(width) + u64::from(PANEL_GAP)),
    };
    let row = width
        .checked_mul(tiles)
        .and_then(|w| w.checked_add(tiles.saturating_sub(1).checked_mul(PANEL_GAP)?))
        .ok_or(overflow("captioned row"))?;
    let row = if colorbar {
        with_colorbar_width(row)?
            .checked_add(labelled_colorbar_width()?)
            .ok_or(overflow("captioned row with colour bar"))?
    } else {
        row
    };
    let rows = height
        .checked_add(caption_height(lines)?)
        .ok_or(OverlayError::TooLarge {
            what: "captioned row",
            width: u64::from(row),
            height: u64::from(height),
        })?;
    Ok((row, rows))
}

/// `tiles` left to right, [`PANEL_GAP`] apart, each with its caption below (all caption
/// strips as tall as the longest), and with `colorbar` a labelled colour bar as tall as the
/// tiles on the right. Every tile must have the size of the first.
pub fn captioned_row(tiles: &[Tile], colorbar: Option<Colormap>) -> Result<RgbImage> {
    let Some(first) = tiles.first() else {
        return Err(OverlayError::Empty {
            what: "captioned row",
            width: 0,
            height: 0,
        });
    };
    let size = first.image.dimensions();
    let lines = tiles.iter().map(|t| t.caption.len()).max().unwrap_or(0);
    let count = u32::try_from(tiles.len()).unwrap_or(u32::MAX);
    let (width, height) = captioned_row_size(count, size, lines, colorbar.is_some())?;
    let mut out = RgbImage::from_pixel(width, height, BACKGROUND);
    let strip = caption_height(lines)?;
    let mut left = 0i64;
    for tile in tiles {
        check_same_size(&first.image, &tile.image)?;
        let captioned = with_caption(&tile.image, &tile.caption, strip)?;
        image::imageops::replace(&mut out, &captioned, left, 0);
        left += i64::from(size.0) + i64::from(PANEL_GAP);
    }
    if let Some(colormap) = colorbar {
        let blank = RgbImage::from_pixel(0, size.1, BACKGROUND);
        let bar = append_labelled_colorbar(&blank, colormap)?;
        image::imageops::replace(&mut out, &bar, left - i64::from(PANEL_GAP), 0);
    }
    Ok(out)
}

fn check_same_size(first: &RgbImage, tile: &RgbImage) -> Result<()> {
    if tile.dimensions() == first.dimensions() {
        return Ok(());
    }
    Err(OverlayError::SizeMismatch {
        what: "captioned row tile",
        left_width: first.width(),
        left_height: first.height(),
        right_width: tile.width(),
        right_height: tile.height(),
    })
}

/// `opts` for one overlay tile: no panel, no colour bar.
fn overlay_only(opts: &OverlayOptions) -> OverlayOptions {
    OverlayOptions {
        panel: false,
        colorbar: false,
        ..*opts
    }
}

/// The photo, captioned with `class`, then for each of `maps` its overlay on the photo
/// (`opts.colormap`, `opts.alpha`), captioned with the method and layer; with
/// `opts.colorbar` a labelled colour bar (`opts.panel` is ignored). For comparing methods.
pub fn method_panel(
    photo: &RgbImage,
    class: &ClassCaption,
    maps: &[MethodMap<'_>],
    opts: &OverlayOptions,
) -> Result<RgbImage> {
    let single = overlay_only(opts);
    let mut tiles = vec![Tile {
        image: photo.clone(),
        caption: class.lines(),
    }];
    for map in maps {
        tiles.push(Tile {
            image: render(photo, map.heatmap, &single)?,
            caption: map.lines(),
        });
    }
    captioned_row(&tiles, opts.colorbar.then_some(opts.colormap))
}

/// `photo | heatmap | overlay` for one method, captioned: the class and probability under
/// the photo, the method and layer under the heatmap and the overlay; with `opts.colorbar` a
/// labelled colour bar (`opts.panel` is ignored).
pub fn explained_panel(
    photo: &RgbImage,
    class: &ClassCaption,
    map: &MethodMap<'_>,
    opts: &OverlayOptions,
) -> Result<RgbImage> {
    let single = overlay_only(opts);
    let overlay = render(photo, map.heatmap, &single)?;
    let (width, height) = photo.dimensions();
    let colors = opts
        .colormap
        .colorize(&resize_bilinear(map.heatmap, width, height)?);
    let mut overlay_caption = map.lines();
    overlay_caption[0] = format!("{} overlay", map.method);
    let tiles = [
        Tile {
            image: photo.clone(),
            caption: class.lines(),
        },
        Tile {
            image: colors,
            caption: map.lines(),
        },
        Tile {
            image: overlay,
            caption: overlay_caption,
        },
    ];
    captioned_row(&tiles, opts.colorbar.then_some(opts.colormap))
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    fn heat() -> Heatmap {
        Heatmap::new(2, 2, vec![0.0, 0.5, 0.75, 1.0]).unwrap()
    }

    #[test]
    fn method_panel_has_one_tile_per_method_and_the_documented_size() {
        let photo = RgbImage::from_pixel(120, 90, Rgb([30, 60, 90]));
        let h = heat();
        let maps = [
            MethodMap {
                method: "grad-cam",
                layer: Some("conv5"),
                heatmap: &h,
            },
            MethodMap {
                method: "guided-backprop",
                layer: None,
                heatmap: &h,
            },
        ];
        let class = ClassCaption {
            class: "tabby cat".into(),
            probability: 0.8731,
        };
        let opts = OverlayOptions {
            colorbar: true,
            ..OverlayOptions::default()
        };
        let panel = method_panel(&photo, &class, &maps, &opts).unwrap();
        assert_eq!(
            Ok(panel.dimensions()),
            captioned_row_size(3, (120, 90), 2, true)
        );
        // The photo is unchanged and its caption has dark text pixels.
        assert_eq!(*panel.get_pixel(5, 5), Rgb([30, 60, 90]));
        let caption_dark = (90..panel.height())
            .flat_map(|y| (0..120).map(move |x| (x, y)))
            .any(|(x, y)| panel.get_pixel(x, y).0[0] < 100);
        assert!(caption_dark);
    }

    #[test]
    fn colour_bar_labels_are_drawn() {
        let image = RgbImage::from_pixel(10, 60, BACKGROUND);
        let out = append_labelled_colorbar(&image, Colormap::Jet).unwrap();
        let labels_left = with_colorbar_width(10).unwrap();
        assert_eq!(
            out.width(),
            labels_left + labelled_colorbar_width().unwrap()
        );
        for rows in [0..20, 40..60] {
            let dark = rows
                .flat_map(|y| (labels_left..out.width()).map(move |x| (x, y)))
                .any(|(x, y)| out.get_pixel(x, y).0[0] < 128);
            assert!(dark, "a label near the top and one near the bottom");
        }
    }

    #[test]
    fn tiles_of_different_sizes_and_empty_rows_are_errors() {
        let a = Tile {
            image: RgbImage::new(4, 4),
            caption: vec![],
        };
        let b = Tile {
            image: RgbImage::new(5, 4),
            caption: vec![],
        };
        assert!(matches!(
            captioned_row(&[a, b], None),
            Err(OverlayError::SizeMismatch { .. })
        ));
        assert!(matches!(
            captioned_row(&[], None),
            Err(OverlayError::Empty { .. })
        ));
    }
}

//! Black and white from grey: a local threshold computed on square blocks, so the result does
//! not depend on the direction rows are read in (a code turned by 90° binarises the same way).
//! Only blocks whose spread stands above the frame's noise are thresholded pixel by pixel; the
//! others go one way as a whole, so noise and moiré do not binarise as specks.

use std::cell::RefCell;

use super::frame::Plane;

/// Side of the square blocks the threshold is computed on, in pixels.
const BLOCK: usize = 8;
/// Radius of the neighbourhood of blocks whose means make a block's threshold, first: 5×5
/// blocks, wide enough that a big module does not set its own threshold.
pub(crate) const RADIUS: usize = 2;
/// The tighter neighbourhood of a second look (3×3 blocks): it follows a blurred code's
/// local contrast and a glare gradient more closely, and keeps a blurred finder's light
/// ring open where the wide one closes it.
pub(crate) const TIGHT_RADIUS: usize = 1;
/// Below this spread between a block's darkest and lightest pixel, a block is flat: it holds
/// no edge, and all of it goes one way. A noisy frame asks more ([`NOISE_MARGIN`]).
const MIN_CONTRAST: u8 = 24;
/// A block holds an edge when its spread exceeds what noise alone gives the frame's blocks:
/// this many times the spread of the flattest tenth of them (sensor noise, a monitor's
/// moiré). Noise-only blocks binarise as salt and pepper, which costs the finder search time
/// and shows it finder-like specks.
const NOISE_MARGIN: f32 = 1.5;
/// The spread that always marks an edge, however noisy the frame: a quarter of the grey scale.
const NOISY_MIN_CONTRAST: u8 = 64;
/// Images whose short side is at least this many pixels judge their noise (camera frames and
/// photos): they show more than a code. A smaller image may be all code, its flattest blocks
/// a code's modules.
const NOISE_FROM: usize = 400;
/// How far below its threshold a flat block's mean must be for the block to be dark: a quarter
/// of the least spread of an edge.
const FLAT_MARGIN: u32 = MIN_CONTRAST as u32 / 4;
/// How many blocks far a threshold spreads into flat areas with no edge nearby (the inside of
/// a big finder pattern); flat areas further from any edge come out white.
const FILL_STEPS: usize = 8;

/// A binarised image: one byte a pixel, 1 for dark, 0 for light.
pub(crate) struct Bitmap {
    pub bits: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// Up to 64 pixels of a bitmap row (each 0 or 1) as the bits of a word, the first pixel
/// lowest.
#[inline]
pub(crate) fn pack_word(pixels: &[u8]) -> u64 {
    debug_assert!(pixels.len() <= 64);
    let mut eights = pixels.chunks_exact(8);
    let mut bits = 0;
    for (i, eight) in eights.by_ref().enumerate() {
        // Whole chunks as fixed-size arrays: no copy of a length known only at run time.
        bits |= pack_eight(eight.try_into().unwrap_or_default()) << (8 * i);
    }
    let rest = eights.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        bits |= pack_eight(last) << (8 * (pixels.len() / 8));
    }
    bits
}

/// Eight pixels of a bitmap (each 0 or 1) as the low bits of a word, the first pixel lowest:
/// one multiplication gathers the lowest bit of each byte into the top byte.
#[inline]
fn pack_eight(pixels: [u8; 8]) -> u64 {
    let spread = u64::from_le_bytes(pixels) & 0x0101_0101_0101_0101;
    spread.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// How many dropped bitmaps' pixels a scanning thread keeps for the next bitmaps: as many as
/// are alive at once in a look (the first threshold's, and a closer or turned look's two).
const SPARE_BITMAPS: usize = 3;

thread_local! {
    /// The pixels of the last bitmaps dropped on this thread, for the next to reuse: the pages
    /// of a fresh 1080p buffer fault in one by one as they are first written, which took as
    /// long as the rest of binarising (about 1 ms a frame). With one buffer kept, the second
    /// threshold's bitmap still faulted in on every frame that took it.
    static SPARE_BITS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer for `len` pixels: a spare one that holds them (the smallest), else the
/// biggest spare (which grows), else a new one.
fn spare_bits(len: usize) -> Vec<u8> {
    SPARE_BITS.with_borrow_mut(|spares| {
        let fits = (0..spares.len())
            .filter(|&i| spares[i].capacity() >= len)
            .min_by_key(|&i| spares[i].capacity());
        let pick = fits.or_else(|| (0..spares.len()).max_by_key(|&i| spares[i].capacity()));
        let mut bits = pick.map(|i| spares.swap_remove(i)).unwrap_or_default();
        bits.clear();
        bits.reserve(len);
        bits
    })
}

/// Hands the pixels to the next bitmaps made on this thread (the biggest buffers are kept).
impl Drop for Bitmap {
    fn drop(&mut self) {
        let bits = std::mem::take(&mut self.bits);
        SPARE_BITS.with_borrow_mut(|spares| {
            spares.push(bits);
            if spares.len() > SPARE_BITMAPS {
                let smallest = (0..spares.len()).min_by_key(|&i| spares[i].capacity());
                if let Some(i) = smallest {
                    spares.swap_remove(i);
                }
            }
        });
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The block holds edges: each pixel is compared with the threshold.
    Edges,
    /// The block is flat: it is dark or light as a whole.
    Flat,
    /// Flat with no threshold yet.
    Unresolved,
}

/// A plane's blocks: their means and whether they hold an edge, from which a threshold of
/// any neighbourhood is computed. Computed once, binarised with both neighbourhoods.
pub(crate) struct Blocks<'p, 'a> {
    plane: &'p Plane<'a>,
    /// Blocks across and down.
    bw: usize,
    bh: usize,
    /// Each block's mean grey.
    mean: Vec<u32>,
    /// Whether each block holds an edge (enough contrast, above the noise).
    edges: Vec<bool>,
    /// Summed-area tables over the means and the edge flags, `bw + 1` wide.
    sat_mean: Vec<u32>,
    sat_edges: Vec<u32>,
}

impl<'p, 'a> Blocks<'p, 'a> {
    /// The blocks of `plane`.
    pub(crate) fn of(plane: &'p Plane<'a>) -> Self {
        let (w, h) = (plane.width, plane.height);
        let bw = w.div_ceil(BLOCK);
        let bh = h.div_ceil(BLOCK);
        let nblocks = bw * bh;
        let mut mean = vec![0u32; nblocks];
        let mut contrast = vec![0u8; nblocks];
        {
            // Column sums, minima and maxima over one band of BLOCK rows (one pass a row,
            // which vectorises), then folded into blocks.
            let mut sum = vec![0u16; w];
            let mut lo = vec![0u8; w];
            let mut hi = vec![0u8; w];
            for by in 0..bh {
                let y0 = by * BLOCK;
                let y1 = (y0 + BLOCK).min(h);
                column_stats(plane, y0..y1, &mut sum, &mut lo, &mut hi);
                // Contrast is judged one pixel past the block's right and bottom edges, so an
                // edge that falls exactly on a block border (a rendered code whose modules line
                // up with the blocks) still marks the block as holding an edge.
                if y1 < h {
                    for ((l, m), &p) in lo.iter_mut().zip(&mut hi).zip(plane.row(y1)) {
                        *l = (*l).min(p);
                        *m = (*m).max(p);
                    }
                }
                let rows = (y1 - y0) as u32;
                let blocks = sum
                    .chunks(BLOCK)
                    .zip(lo.chunks(BLOCK).zip(hi.chunks(BLOCK)));
                for (bx, (sums, (lows, highs))) in blocks.enumerate() {
                    // The column past the block's right edge counts for its contrast.
                    let past = ((bx + 1) * BLOCK).min(w - 1);
                    let i = by * bw + bx;
                    let edge = (lo[past], hi[past]);
                    // Whole blocks (most) take the same code with their sizes known.
                    let (total, darkest, lightest) = if rows == BLOCK as u32 && sums.len() == BLOCK
                    {
                        fold_block(&sums[..BLOCK], &lows[..BLOCK], &highs[..BLOCK], edge)
                    } else {
                        fold_block(sums, lows, highs, edge)
                    };
                    mean[i] = total / (rows * sums.len() as u32);
                    contrast[i] = lightest - darkest;
                }
            }
        }

        let min_contrast = if w.min(h) >= NOISE_FROM {
            noise_contrast(&contrast).clamp(MIN_CONTRAST, NOISY_MIN_CONTRAST)
        } else {
            MIN_CONTRAST
        };
        let edges: Vec<bool> = contrast.iter().map(|&c| c >= min_contrast).collect();

        // Summed-area tables over the block means and the edge flags.
        let sw = bw + 1;
        let mut sat_mean = vec![0u32; sw * (bh + 1)];
        let mut sat_edges = vec![0u32; sw * (bh + 1)];
        for by in 0..bh {
            let (mut row_mean, mut row_edges) = (0u32, 0u32);
            for bx in 0..bw {
                row_mean += mean[by * bw + bx];
                row_edges += u32::from(edges[by * bw + bx]);
                sat_mean[(by + 1) * sw + bx + 1] = sat_mean[by * sw + bx + 1] + row_mean;
                sat_edges[(by + 1) * sw + bx + 1] = sat_edges[by * sw + bx + 1] + row_edges;
            }
        }
        Blocks {
            plane,
            bw,
            bh,
            mean,
            edges,
            sat_mean,
            sat_edges,
        }
    }

    /// Binarises the plane with a threshold per block: the mean of the block means up to
    /// `radius` blocks around it.
    pub(crate) fn binarize(&self, radius: usize) -> Bitmap {
        let Blocks {
            plane,
            bw,
            bh,
            ref mean,
            ref edges,
            ref sat_mean,
            ref sat_edges,
        } = *self;
        let (w, h) = (plane.width, plane.height);
        let nblocks = bw * bh;
        let sw = bw + 1;
        let boxed = |sat: &[u32], x0: usize, y0: usize, x1: usize, y1: usize| {
            sat[y1 * sw + x1] + sat[y0 * sw + x0] - sat[y0 * sw + x1] - sat[y1 * sw + x0]
        };

        let mut threshold = vec![0u32; nblocks];
        let mut kind = vec![Kind::Unresolved; nblocks];
        for by in 0..bh {
            let (y0, y1) = (by.saturating_sub(radius), (by + radius + 1).min(bh));
            for bx in 0..bw {
                let (x0, x1) = (bx.saturating_sub(radius), (bx + radius + 1).min(bw));
                let i = by * bw + bx;
                if boxed(sat_edges, x0, y0, x1, y1) == 0 {
                    continue;
                }
                let n = ((x1 - x0) * (y1 - y0)) as u32;
                threshold[i] = boxed(sat_mean, x0, y0, x1, y1) / n;
                kind[i] = if edges[i] { Kind::Edges } else { Kind::Flat };
            }
        }
        spread_thresholds(&mut threshold, &mut kind, mean, bw, bh);

        // Per band of rows: each pixel is dark when below its block's threshold (blocks with
        // edges) or when its block is flat and dark; spread to pixel columns, so the inner loop
        // vectorises.
        let mut bits = spare_bits(w * h);
        let mut limit = vec![0u8; w];
        let mut forced = vec![0u8; w];
        for by in 0..bh {
            let band = by * bw..(by + 1) * bw;
            let blocks = threshold[band.clone()]
                .iter()
                .zip(&kind[band.clone()])
                .zip(&mean[band]);
            for (bx, ((&t, &kind), &mean)) in blocks.enumerate() {
                let t = t.min(255) as u8;
                let (lim, force) = match kind {
                    Kind::Edges => (t, 0),
                    Kind::Flat => (0, u8::from(flat_is_dark(mean, u32::from(t)))),
                    Kind::Unresolved => (0, 0),
                };
                let columns = bx * BLOCK..((bx + 1) * BLOCK).min(w);
                if columns.len() == BLOCK {
                    limit[columns.clone()].copy_from_slice(&[lim; BLOCK]);
                    forced[columns].copy_from_slice(&[force; BLOCK]);
                } else {
                    limit[columns.clone()].fill(lim);
                    forced[columns].fill(force);
                }
            }
            for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
                let row = plane.row(y).iter().zip(&limit).zip(&forced);
                bits.extend(row.map(|((&p, &l), &f)| u8::from(p < l) | f));
            }
        }
        Bitmap {
            bits,
            width: w,
            height: h,
        }
    }
}

/// Each column's sum, darkest and lightest grey over `rows` (at least one) of `plane`, in
/// one pass a row (which vectorises).
#[inline(always)]
fn column_stats(
    plane: &Plane<'_>,
    mut rows: std::ops::Range<usize>,
    sum: &mut [u16],
    lo: &mut [u8],
    hi: &mut [u8],
) {
    let Some(first) = rows.next() else {
        return;
    };
    let row = plane.row(first);
    for (((s, l), m), &p) in sum.iter_mut().zip(&mut *lo).zip(&mut *hi).zip(row) {
        (*s, *l, *m) = (u16::from(p), p, p);
    }
    for y in rows {
        let row = plane.row(y);
        for (((s, l), m), &p) in sum.iter_mut().zip(&mut *lo).zip(&mut *hi).zip(row) {
            *s += u16::from(p);
            *l = (*l).min(p);
            *m = (*m).max(p);
        }
    }
}

/// One block's total grey and its darkest and lightest grey, from its columns' sums, minima
/// and maxima; `edge` (the darkest and lightest grey of pixels counted with it) starts the
/// extremes.
#[inline(always)]
fn fold_block(sums: &[u16], lows: &[u8], highs: &[u8], edge: (u8, u8)) -> (u32, u8, u8) {
    let total: u32 = sums.iter().map(|&v| u32::from(v)).sum();
    let darkest = lows.iter().fold(edge.0, |a, &b| a.min(b));
    let lightest = highs.iter().fold(edge.1, |a, &b| a.max(b));
    (total, darkest, lightest)
}

/// Below this spread a block of zxing's hybrid threshold ([`hybrid`]) is flat.
const HYBRID_FLAT: u8 = 24;

/// The grey look's second opinion on a region: zxing's "hybrid" local threshold, bit for bit
/// as `rxing`'s `HybridBinarizer` gives it, in a fraction of its time. Each 8×8 block has a
/// black point: the mean of its pixels, or where it is flat, half its darkest pixel, raised to
/// its neighbours' black points above and to the left when it is darker than they are. A pixel
/// is dark when at most the mean black point of the 5×5 blocks around its block, the
/// neighbourhood kept inside the image. The last column and row of blocks end at the image's
/// edge, overlapping the ones before them. `invert` reads the grey scale the other way round
/// (a light-on-dark code). `None` for images under five blocks a side, which zxing
/// thresholds as a whole instead.
pub(crate) fn hybrid(plane: &Plane<'_>, invert: bool) -> Option<Bitmap> {
    let (w, h) = (plane.width, plane.height);
    if w < 5 * BLOCK || h < 5 * BLOCK {
        return None;
    }
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    // Where the block `b` of a row or column of `len` pixels starts.
    let start = |b: usize, len: usize| (b * BLOCK).min(len - BLOCK);
    let flip = if invert { u8::MAX } else { 0 };

    // Black points, from each band's column sums, minima and maxima (one pass a row).
    let mut black = vec![0u32; bw * bh];
    let mut sum = vec![0u16; w];
    let mut lo = vec![0u8; w];
    let mut hi = vec![0u8; w];
    for by in 0..bh {
        let y0 = start(by, h);
        column_stats(plane, y0..y0 + BLOCK, &mut sum, &mut lo, &mut hi);
        for bx in 0..bw {
            let columns = start(bx, w)..start(bx, w) + BLOCK;
            let (total, darkest, lightest) = fold_block(
                &sum[columns.clone()],
                &lo[columns.clone()],
                &hi[columns],
                (u8::MAX, 0),
            );
            let spread = lightest - darkest;
            // Inverted, the darkest grey is the lightest pixel.
            let (total, darkest) = if invert {
                (255 * (BLOCK * BLOCK) as u32 - total, u8::MAX - lightest)
            } else {
                (total, darkest)
            };
            let point = if spread > HYBRID_FLAT {
                total / (BLOCK * BLOCK) as u32
            } else {
                // Flat: light background unless darker than the blocks before it.
                let around = (bx > 0 && by > 0).then(|| {
                    let above = (by - 1) * bw + bx;
                    (black[above] + 2 * black[by * bw + bx - 1] + black[above - 1]) / 4
                });
                match around {
                    Some(around) if u32::from(darkest) < around => around,
                    _ => u32::from(darkest) / 2,
                }
            };
            black[by * bw + bx] = point;
        }
    }

    // Thresholds spread to pixel columns, one band of rows at a time. The last two blocks of
    // a row or column, which overlap, share their 5×5 neighbourhood, so either threshold is
    // the pixel's.
    let mut bits = spare_bits(w * h);
    let mut limit = vec![0u8; w];
    for by in 0..bh {
        let cy = by.clamp(2, bh - 3);
        for bx in 0..bw {
            let cx = bx.clamp(2, bw - 3);
            let total: u32 = (cy - 2..=cy + 2)
                .map(|y| black[y * bw + cx - 2..=y * bw + cx + 2].iter().sum::<u32>())
                .sum();
            // A mean of black points, each at most 255.
            let threshold = (total / 25).min(255) as u8;
            limit[start(bx, w)..start(bx, w) + BLOCK].fill(threshold);
        }
        for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
            let row = plane.row(y).iter().zip(&limit);
            bits.extend(row.map(|(&p, &l)| u8::from(p ^ flip <= l)));
        }
    }
    Some(Bitmap {
        bits,
        width: w,
        height: h,
    })
}

/// The spread a block must exceed to hold an edge rather than noise, from the spreads of all
/// blocks: [`NOISE_MARGIN`] times the highest spread of the flattest tenth.
fn noise_contrast(contrast: &[u8]) -> u8 {
    let mut histogram = [0usize; 256];
    for &c in contrast {
        histogram[usize::from(c)] += 1;
    }
    let tenth = contrast.len() / 10;
    let mut seen = 0;
    let flattest = histogram
        .iter()
        .position(|&n| {
            seen += n;
            seen > tenth
        })
        .unwrap_or(0);
    (flattest as f32 * NOISE_MARGIN).min(255.0) as u8
}

/// Whether a flat block of mean grey `mean` is dark under `threshold`: only when clearly
/// below it. A flat block as light as the blocks around it (a page; the quiet zone) has a
/// mean about its threshold, which noise alone would put on either side.
fn flat_is_dark(mean: u32, threshold: u32) -> bool {
    mean + FLAT_MARGIN < threshold
}

/// Gives flat blocks with no edge in their neighbourhood a threshold spread from the blocks
/// around them, one ring of blocks a step up to [`FILL_STEPS`], so the inside of a big dark
/// square keeps the threshold of its rim: each block of a ring gets the mean threshold of its
/// neighbours that have one. Only blocks that come out dark carry the spread further: a flat
/// light block stays light whatever lies beyond it, and the spread stays cheap where a frame
/// is mostly flat and light (a page, a wall).
fn spread_thresholds(threshold: &mut [u32], kind: &mut [Kind], mean: &[u32], bw: usize, bh: usize) {
    let neighbours = |i: usize| {
        let (bx, by) = (i % bw, i / bw);
        (by.saturating_sub(1)..(by + 2).min(bh)).flat_map(move |ny| {
            (bx.saturating_sub(1)..(bx + 2).min(bw)).map(move |nx| ny * bw + nx)
        })
    };
    // The first ring: unresolved blocks beside a resolved one (rows of flags ORed across,
    // then down, which vectorises).
    let resolved: Vec<u8> = kind
        .iter()
        .map(|&k| u8::from(k != Kind::Unresolved))
        .collect();
    let mut across = resolved.clone();
    for (out, row) in across.chunks_exact_mut(bw).zip(resolved.chunks_exact(bw)) {
        let right_of_next = row.get(2..).unwrap_or_default();
        for (o, (&left, &right)) in out[1..].iter_mut().zip(row.iter().zip(right_of_next)) {
            *o |= left | right;
        }
        if bw > 1 {
            out[0] |= row[1];
            out[bw - 1] |= row[bw - 2];
        }
    }
    let mut ring: Vec<usize> = Vec::new();
    for by in 0..bh {
        let above = &across[by.saturating_sub(1) * bw..][..bw];
        let here = &across[by * bw..][..bw];
        let below = &across[(by + 1).min(bh - 1) * bw..][..bw];
        let row = &resolved[by * bw..][..bw];
        for bx in 0..bw {
            if row[bx] == 0 && (above[bx] | here[bx] | below[bx]) != 0 {
                ring.push(by * bw + bx);
            }
        }
    }
    let mut values = Vec::new();
    let mut queued = Vec::new();
    let mut seen = vec![false; kind.len()];
    for _ in 0..FILL_STEPS {
        if ring.is_empty() {
            break;
        }
        values.clear();
        for &j in &ring {
            let (mut sum, mut n) = (0u32, 0u32);
            for k in neighbours(j) {
                if kind[k] != Kind::Unresolved {
                    sum += threshold[k];
                    n += 1;
                }
            }
            values.push(sum.checked_div(n).unwrap_or(0));
        }
        for (&j, &t) in ring.iter().zip(&values) {
            threshold[j] = t;
            kind[j] = Kind::Flat;
        }
        // The next ring: unresolved neighbours of the blocks that came out dark.
        queued.clear();
        for (&j, &t) in ring.iter().zip(&values) {
            if flat_is_dark(mean[j], t) {
                for k in neighbours(j) {
                    if kind[k] == Kind::Unresolved && !std::mem::replace(&mut seen[k], true) {
                        queued.push(k);
                    }
                }
            }
        }
        std::mem::swap(&mut ring, &mut queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_pack_first_lowest() {
        assert_eq!(pack_eight([1, 0, 0, 0, 0, 0, 0, 0]), 0b1);
        assert_eq!(pack_eight([0, 1, 1, 0, 0, 0, 0, 1]), 0b1000_0110);
        assert_eq!(pack_word(&[1, 1, 1]), 0b111);
        assert_eq!(pack_word(&[1; 8]), 0xFF);
        // Whole chunks of eight and a remainder, up to a full word.
        for len in [9, 13, 16, 63, 64] {
            let pixels: Vec<u8> = (0..len)
                .map(|i| u8::from(i % 3 == 0 || i % 7 == 5))
                .collect();
            let expected = pixels
                .iter()
                .enumerate()
                .fold(0, |acc, (i, &p)| acc | u64::from(p) << i);
            assert_eq!(pack_word(&pixels), expected, "{len} pixels");
        }
    }

    /// `rxing`'s `HybridBinarizer` on `plane` (inverted when asked): 1 for dark.
    fn rxing_hybrid(plane: &Plane<'_>, invert: bool) -> Vec<u8> {
        use rxing::common::HybridBinarizer;
        use rxing::{Binarizer, Luma8LuminanceSource};
        let (w, h) = (plane.width, plane.height);
        let pixels: Vec<u8> = (0..h)
            .flat_map(|y| {
                plane
                    .row(y)
                    .iter()
                    .map(|&p| if invert { 255 - p } else { p })
            })
            .collect();
        let source = Luma8LuminanceSource::new(pixels, w as u32, h as u32).expect("source");
        let binarizer = HybridBinarizer::new(source);
        let matrix = binarizer.get_black_matrix().expect("matrix");
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| u8::from(matrix.get(x as u32, y as u32)))
            .collect()
    }

    #[test]
    fn the_hybrid_threshold_is_rxings_bit_for_bit() {
        // Odd sizes (the last blocks overlap), noise over gradients and dark squares (flat
        // blocks next to edges), both polarities.
        for (i, &(w, h)) in [(40, 40), (41, 57), (203, 97), (96, 301), (640, 480)]
            .iter()
            .enumerate()
        {
            let noise = crate::scan::test_noise(w * h, 0x9e37_79b9 + i as u64);
            let data: Vec<u8> = (0..w * h)
                .map(|j| {
                    let (x, y) = (j % w, j / w);
                    let gradient = (40 + 150 * x / w + 50 * y / h) as i32;
                    let square = (x / 23 + y / 17) % 3 == 0;
                    let base = if square { gradient / 3 } else { gradient };
                    let grain = i32::from(noise[j] % 16) - 8;
                    (base + if (x / 5 + y / 7) % 4 == 0 { grain } else { 0 }).clamp(0, 255) as u8
                })
                .collect();
            let plane = Plane::new(w as u32, h as u32, w as u32, &data).expect("plane");
            for invert in [false, true] {
                let ours = hybrid(&plane, invert).expect("big enough");
                let theirs = rxing_hybrid(&plane, invert);
                let differ = ours
                    .bits
                    .iter()
                    .zip(&theirs)
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(differ, 0, "{w}×{h}, inverted {invert}");
                assert!(theirs.contains(&1) && theirs.contains(&0));
            }
        }
        let small = vec![128u8; 39 * 60];
        let plane = Plane::new(39, 60, 39, &small).expect("plane");
        assert!(hybrid(&plane, false).is_none());
    }

    #[test]
    fn bitmaps_alive_together_reuse_their_buffers_once_dropped() {
        // The first threshold's bitmap and a nested look's two, alive at once (each test runs
        // on a thread of its own, so the spares are this test's): once dropped, the next
        // three bitmaps, smaller, take their buffers instead of new ones of their own size.
        let data = vec![200u8; 64 * 48];
        let big = Plane::new(64, 48, 64, &data).expect("plane");
        let small = Plane::new(32, 24, 64, &data).expect("plane");
        let first: Vec<Bitmap> = (0..SPARE_BITMAPS)
            .map(|_| Blocks::of(&big).binarize(RADIUS))
            .collect();
        drop(first);
        let next: Vec<Bitmap> = (0..SPARE_BITMAPS)
            .map(|_| Blocks::of(&small).binarize(RADIUS))
            .collect();
        assert!(next.iter().all(|b| b.bits.capacity() >= 64 * 48));
        assert!(next.iter().all(|b| b.bits.len() == 32 * 24));
    }

    #[test]
    fn flat_image_is_all_light() {
        let data = vec![200u8; 64 * 48];
        let plane = Plane::new(64, 48, 64, &data).expect("plane");
        for radius in [RADIUS, TIGHT_RADIUS] {
            let bitmap = Blocks::of(&plane).binarize(radius);
            assert!(bitmap.bits.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn dark_square_on_light_is_dark_inside_and_out_of_the_box() {
        // A 40-pixel dark square (several blocks) on a light page.
        let (w, h) = (96, 96);
        let data: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (28..68).contains(&x) && (28..68).contains(&y) {
                    30
                } else {
                    220
                }
            })
            .collect();
        let plane = Plane::new(w as u32, h as u32, w as u32, &data).expect("plane");
        let bitmap = Blocks::of(&plane).binarize(RADIUS);
        assert_eq!(bitmap.bits[48 * w + 48], 1, "centre");
        assert_eq!(bitmap.bits[29 * w + 29], 1, "corner inside");
        assert_eq!(bitmap.bits[5 * w + 5], 0, "page");
        assert_eq!(bitmap.bits[48 * w + 80], 0, "beside");
    }

    #[test]
    fn sensor_noise_stays_flat_where_a_dark_square_still_shows() {
        // A light camera frame with noise of ±16 grey levels (a spread of about 30 a block,
        // above the bare minimum of 24) and a dark square of 40 pixels. Without the noise
        // floor, the noise binarises as specks; without the flat blocks' margin, the page's
        // blocks next to the square come out dark or light by their noise.
        let (w, h) = (640, 480);
        let noise = crate::scan::test_noise(w * h, 0x2545_f491);
        let data: Vec<u8> = (0..w * h)
            .map(|i| {
                let noise = i32::from(noise[i] % 33) - 16;
                let (x, y) = (i % w, i / w);
                let base = if (284..324).contains(&x) && (204..244).contains(&y) {
                    50
                } else {
                    190
                };
                (base + noise) as u8
            })
            .collect();
        let plane = Plane::new(w as u32, h as u32, w as u32, &data).expect("plane");
        let bitmap = Blocks::of(&plane).binarize(RADIUS);
        let dark_outside = (0..w * h)
            .filter(|&i| {
                bitmap.bits[i] == 1
                    && !((276..332).contains(&(i % w)) && (196..252).contains(&(i / w)))
            })
            .count();
        assert_eq!(dark_outside, 0, "noise binarised as specks");
        assert_eq!(bitmap.bits[224 * w + 304], 1, "the square's centre");
        assert_eq!(bitmap.bits[205 * w + 285], 1, "the square's corner");
        assert_eq!(bitmap.bits[201 * w + 304], 0, "above the square");
    }
}

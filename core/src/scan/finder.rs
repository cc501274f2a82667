//! Finding the three finder patterns (the nested squares in a QR code's corners) in a bitmap:
//! a 1:1:3:1:1 run along a row, confirmed along the column through its centre, grouped into
//! one candidate per pattern. Cheap enough to run on every camera frame, so that the decoders
//! only run where a code is likely, and only on the part of the frame around it.

use super::binarize::{pack_word, Bitmap};

/// A finder pattern candidate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finder {
    /// Centre, in bitmap pixels.
    pub x: f32,
    pub y: f32,
    /// Estimated module size, in pixels.
    pub module: f32,
    /// How many rows confirmed it.
    pub hits: u32,
    /// Dark centre (a normal code) or light centre (an inverted one).
    pub dark: bool,
}

/// More candidates than this (confirmed ones, and those the rows scanned may still confirm)
/// and the picture is texture, not a code: stop searching.
const MAX_CANDIDATES: usize = 64;

/// Images whose short side is at least this many pixels are scanned every other row.
const ROW_STEP_FROM: usize = 600;

/// What the finder search saw in a bitmap.
#[derive(Debug, Default)]
pub(crate) struct FinderSearch {
    /// Finder pattern candidates of both polarities confirmed by at least the rows asked for.
    pub finders: Vec<Finder>,
    /// Whether any row crossed anything like a finder pattern, confirmed or not.
    pub glimpsed: bool,
}

/// Finder pattern candidates in `bitmap`, of both polarities, each confirmed by at least
/// `min_hits` rows.
///
/// Rows are scanned top to bottom. A candidate the scan has moved past can gain no more
/// rows: it is kept if confirmed and dropped if not, so a page's text above a code (many
/// candidates of one row each) does not fill the candidate list before the code is reached.
pub(crate) fn find_finders(bitmap: &Bitmap, min_hits: u32) -> FinderSearch {
    let mut search = FinderSearch::default();
    // Candidates that rows still to come may cross.
    let mut live: Vec<Finder> = Vec::new();
    let w = bitmap.width;
    if w == 0 {
        return search;
    }
    // Big images: every other row (a finder's centre is three modules tall, so it still
    // crosses at least two scanned rows at 1.5 pixels a module).
    let step = if bitmap.width.min(bitmap.height) >= ROW_STEP_FROM {
        2
    } else {
        1
    };
    for (y, row) in bitmap.bits.chunks_exact(w).enumerate().step_by(step) {
        // The last five run lengths, oldest first; `colour` is the colour of the run in
        // progress, which began at `start`.
        let mut runs = [0usize; 5];
        let mut colour = row[0];
        let mut start = 0usize;
        for x in run_ends(row) {
            runs = [runs[1], runs[2], runs[3], runs[4], x - start];
            // Runs 0, 2 and 4 have the colour of the run just closed.
            if looks_like_finder(&runs) {
                let centre_start = start - runs[3] - runs[2];
                let cx = centre_start + runs[2] / 2;
                let total: usize = runs.iter().sum();
                if let Some((cy, vertical)) = cross_check_vertical(bitmap, cx, y, colour, total) {
                    let module = (total + vertical) as f32 / 14.0;
                    add(&mut live, cx as f32 + 0.5, cy, module, colour == 1);
                    search.glimpsed = true;
                }
            }
            colour ^= 1;
            start = x;
        }
        retire_passed(&mut live, &mut search.finders, y as f32, min_hits);
        if live.len() + search.finders.len() > MAX_CANDIDATES {
            break;
        }
    }
    search
        .finders
        .extend(live.into_iter().filter(|f| f.hits >= min_hits));
    search
}

/// Where each run of a bitmap row ends (the next run's first pixel), then the row's end.
fn run_ends(row: &[u8]) -> RunEnds<'_> {
    RunEnds {
        row,
        base: 0,
        next: 0,
        changes: 0,
        before: row.first().map_or(0, |&p| u64::from(p)),
        ended: false,
    }
}

/// The iterator of [`run_ends`]: 64 pixels at a time, the bits of a word set where a pixel
/// differs from the one before (a noisy row has a run every pixel or two).
struct RunEnds<'r> {
    row: &'r [u8],
    /// The first pixel of the word `changes` holds, and of the next word.
    base: usize,
    next: usize,
    /// The run ends in the current word not given yet, as bits from `base`.
    changes: u64,
    /// The last pixel of the word before, as the lowest bit.
    before: u64,
    /// Whether the row's end was given.
    ended: bool,
}

impl Iterator for RunEnds<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.changes == 0 {
            if self.next >= self.row.len() {
                if self.ended {
                    return None;
                }
                self.ended = true;
                return Some(self.row.len());
            }
            let pixels = &self.row[self.next..(self.next + 64).min(self.row.len())];
            let bits = pack_word(pixels);
            self.changes = (bits ^ ((bits << 1) | self.before)) & (u64::MAX >> (64 - pixels.len()));
            self.before = bits >> 63;
            self.base = self.next;
            self.next += pixels.len();
        }
        let x = self.base + self.changes.trailing_zeros() as usize;
        self.changes &= self.changes - 1;
        Some(x)
    }
}

/// Moves the candidates of `live` that rows from `y` on can no longer cross into `done`
/// when at least `min_hits` rows confirmed them, and drops the others.
fn retire_passed(live: &mut Vec<Finder>, done: &mut Vec<Finder>, y: f32, min_hits: u32) {
    let mut i = 0;
    while i < live.len() {
        let f = live[i];
        // A row merges into a candidate when the centre it confirms lies within two modules
        // (of up to twice this size) of the candidate's, and the row crosses that centre
        // (at most two such modules from it): eight modules is beyond reach.
        if y > f.y + 8.0 * f.module + 2.0 {
            live.swap_remove(i);
            if f.hits >= min_hits {
                done.push(f);
            }
        } else {
            i += 1;
        }
    }
}

/// Merges a confirmed centre into the candidate it belongs to, or starts a new one.
fn add(found: &mut Vec<Finder>, x: f32, y: f32, module: f32, dark: bool) {
    for f in found.iter_mut() {
        let near = (f.x - x).abs() <= 2.0 * f.module.max(module)
            && (f.y - y).abs() <= 2.0 * f.module.max(module);
        let similar = module <= 2.0 * f.module && f.module <= 2.0 * module;
        if f.dark == dark && near && similar {
            let n = f.hits as f32;
            f.x = (f.x * n + x) / (n + 1.0);
            f.y = (f.y * n + y) / (n + 1.0);
            f.module = (f.module * n + module) / (n + 1.0);
            f.hits += 1;
            return;
        }
    }
    found.push(Finder {
        x,
        y,
        module,
        hits: 1,
        dark,
    });
}

/// Walks the column through `(x, y)` up and down: the same 1:1:3:1:1 pattern, of a size
/// close to `total`, gives the centre's row and the vertical total.
fn cross_check_vertical(
    bitmap: &Bitmap,
    x: usize,
    y: usize,
    colour: u8,
    total: usize,
) -> Option<(f32, usize)> {
    let w = bitmap.width;
    let h = bitmap.height;
    let max_run = total;
    let at = |yy: usize| bitmap.bits[yy * w + x];
    // Upwards: centre, ring, outer.
    let mut up = [0usize; 3];
    let mut yy = y as isize;
    for (i, want) in [colour, colour ^ 1, colour].into_iter().enumerate() {
        while yy >= 0 && at(yy as usize) == want && up[i] <= max_run {
            up[i] += 1;
            yy -= 1;
        }
        if up[i] == 0 || up[i] > max_run {
            return None;
        }
    }
    let mut down = [0usize; 3];
    let mut yy = y + 1;
    for (i, want) in [colour, colour ^ 1, colour].into_iter().enumerate() {
        while yy < h && at(yy) == want && down[i] <= max_run {
            down[i] += 1;
            yy += 1;
        }
        if (i > 0 && down[i] == 0) || down[i] > max_run {
            return None;
        }
    }
    let runs = [up[2], up[1], up[0] + down[0], down[1], down[2]];
    let vertical: usize = runs.iter().sum();
    if !looks_like_finder(&runs) || vertical * 2 < total || vertical > total * 2 {
        return None;
    }
    let centre_top = y + 1 - up[0];
    Some((centre_top as f32 + (up[0] + down[0]) as f32 / 2.0, vertical))
}

/// Whether five run lengths have the 1:1:3:1:1 ratios of a finder pattern's middle line, with
/// a generous half module of slack on each run (blur and perspective).
#[inline]
pub(crate) fn looks_like_finder(runs: &[usize; 5]) -> bool {
    let total: usize = runs.iter().sum();
    if total < 7 || runs[0] == 0 {
        return false;
    }
    // A run of one module is within [0.5, 1.5] modules: 14·r ∈ [total, 3·total].
    let one = |r: usize| r * 14 >= total && r * 14 <= total * 3;
    // The centre is within [2, 4] modules: 7·c ∈ [2·total, 4·total].
    let centre = runs[2] * 7 >= total * 2 && runs[2] * 7 <= total * 4;
    centre && one(runs[0]) && one(runs[1]) && one(runs[3]) && one(runs[4])
}

/// Below this side, in pixels, a region cannot hold a readable code.
pub(crate) const MIN_CODE_SIDE: usize = 21;

/// The box `(x0, y0, x1, y1)` (exclusive ends) that holds every code the finders can belong
/// to: each three of them that could be one code's corners ([`could_be_corners`]), the fourth
/// corner they imply, and a margin of quiet zone. `None` when no three could be, or when the
/// finders are too many to pair up.
pub(crate) fn code_box(
    finders: &[Finder],
    width: usize,
    height: usize,
) -> Option<(usize, usize, usize, usize)> {
    if finders.len() > 8 {
        return None;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    // The biggest module of the finders in a triple; none while no triple fits.
    let mut module: Option<f32> = None;
    for (corner, a, b) in corner_triples(finders) {
        let fourth = (a.x + b.x - corner.x, a.y + b.y - corner.y);
        for (x, y) in [(a.x, a.y), (b.x, b.y), (corner.x, corner.y), fourth] {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let biggest = a.module.max(b.module).max(corner.module);
        module = Some(module.map_or(biggest, |m| m.max(biggest)));
    }
    let b = grown((x0, y0, x1, y1), 9.0 * module?, width, height);
    (b.2 > b.0 + MIN_CODE_SIDE && b.3 > b.1 + MIN_CODE_SIDE).then_some(b)
}

/// Every three of `finders` that could be one code's corners ([`could_be_corners`]): the
/// corner between the other two, then those two.
pub(crate) fn corner_triples(
    finders: &[Finder],
) -> impl Iterator<Item = (&Finder, &Finder, &Finder)> {
    finders.iter().enumerate().flat_map(move |(i, a)| {
        finders
            .iter()
            .enumerate()
            .skip(i + 1)
            .flat_map(move |(j, b)| {
                finders
                    .iter()
                    .enumerate()
                    .filter(move |&(k, corner)| k != i && k != j && could_be_corners(corner, a, b))
                    .map(move |(_, corner)| (corner, a, b))
            })
    })
}

/// The pixels from `(x0, y0)` to `(x1, y1)` (inclusive) grown by `margin` on every side, as
/// a box with exclusive ends within `width` × `height`.
pub(crate) fn grown(
    (x0, y0, x1, y1): (f32, f32, f32, f32),
    margin: f32,
    width: usize,
    height: usize,
) -> (usize, usize, usize, usize) {
    let clamp = |v: f32, hi: usize| (v.max(0.0) as usize).min(hi);
    (
        clamp(x0 - margin, width),
        clamp(y0 - margin, height),
        clamp(x1 + margin + 1.0, width),
        clamp(y1 + margin + 1.0, height),
    )
}

/// How far a code reaches from one of its finder patterns, in that finder's modules: a code
/// of version 20 (97 modules a side) from any corner, with room for a module estimate off by
/// a few percent.
const CODE_REACH_MODULES: f32 = 100.0;

/// The neighbourhoods of `finders` where the rest of their code would be, were one of them
/// a code's corner: a box [`CODE_REACH_MODULES`] of its modules each way around each, boxes
/// that overlap merged into one, all within `width` × `height`. Where no three finders could
/// be a code's corners (a code whose other finders the rows did not confirm), a decoder's own
/// finder search need not cover the rest of the image: a page's text that looks like finder
/// patterns is small, and so are its neighbourhoods.
pub(crate) fn neighbourhoods(
    finders: &[Finder],
    width: usize,
    height: usize,
) -> Vec<(usize, usize, usize, usize)> {
    let mut boxes: Vec<(usize, usize, usize, usize)> = Vec::with_capacity(finders.len());
    for f in finders {
        let reach = CODE_REACH_MODULES * f.module;
        let mut merged = grown((f.x, f.y, f.x, f.y), reach, width, height);
        // Whatever the new box overlaps joins it; the union may overlap boxes it passed
        // over, so look again until none does.
        while let Some(i) = boxes.iter().position(|b| overlap(*b, merged)) {
            let b = boxes.swap_remove(i);
            merged = (
                merged.0.min(b.0),
                merged.1.min(b.1),
                merged.2.max(b.2),
                merged.3.max(b.3),
            );
        }
        boxes.push(merged);
    }
    boxes
}

/// Whether two boxes `(x0, y0, x1, y1)` (exclusive ends) share a pixel.
fn overlap(a: (usize, usize, usize, usize), b: (usize, usize, usize, usize)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Modules of a code's three finders differ by at most this factor (blur, moiré and a slant
/// included).
const MODULE_RATIO: f32 = 2.5;
/// The two sides from a code's corner finder differ in length by at most this factor (a
/// slant of up to about 45°).
const SIDE_RATIO: f32 = 2.0;
/// The angle between those sides is within about 37° of a right angle: its cosine is at
/// most this, either way.
const MAX_COSINE: f32 = 0.6;
/// Finder centres of one code lie 14 (version 1) to 170 (version 40) modules apart; with
/// room for a module estimate off by half.
const SIDE_MODULES: std::ops::RangeInclusive<f32> = 7.0..=255.0;

/// Whether `corner`, `a` and `b` could be one code's finder patterns, `corner` the one
/// between the other two: modules of about one size, two sides of about one length at about
/// a right angle, as many modules long as a code can be.
fn could_be_corners(corner: &Finder, a: &Finder, b: &Finder) -> bool {
    let modules = [corner.module, a.module, b.module];
    let (small, big) = modules
        .iter()
        .fold((f32::MAX, 0.0f32), |(s, l), &m| (s.min(m), l.max(m)));
    if big > small * MODULE_RATIO {
        return false;
    }
    let (ax, ay) = (a.x - corner.x, a.y - corner.y);
    let (bx, by) = (b.x - corner.x, b.y - corner.y);
    let (la, lb) = (ax.hypot(ay), bx.hypot(by));
    if la.max(lb) > la.min(lb) * SIDE_RATIO || la.min(lb) == 0.0 {
        return false;
    }
    if (ax * bx + ay * by).abs() > MAX_COSINE * la * lb {
        return false;
    }
    let mean_module = modules.iter().sum::<f32>() / 3.0;
    SIDE_MODULES.contains(&(la.max(lb) / mean_module))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ends_are_where_each_run_ends_across_words() {
        // Runs of 1 to 70 pixels, alternating colours, across several 64-pixel words.
        for first in [0u8, 1] {
            let mut row = Vec::new();
            let mut expected = Vec::new();
            for (i, len) in (1..=70).chain([64, 1, 128]).enumerate() {
                row.extend(std::iter::repeat_n(first ^ (i % 2) as u8, len));
                expected.push(row.len());
            }
            assert_eq!(run_ends(&row).collect::<Vec<_>>(), expected);
        }
        assert_eq!(run_ends(&[1]).collect::<Vec<_>>(), vec![1]);
        assert_eq!(run_ends(&[0; 64]).collect::<Vec<_>>(), vec![64]);
    }

    #[test]
    fn finder_ratios() {
        assert!(looks_like_finder(&[4, 4, 12, 4, 4]));
        assert!(looks_like_finder(&[3, 5, 11, 4, 5]));
        assert!(!looks_like_finder(&[4, 4, 4, 4, 4]));
        assert!(!looks_like_finder(&[0, 0, 0, 0, 0]));
    }

    /// Whether the pixel `(x, y)` of a finder pattern of `m`-pixel modules (its corner at 0, 0)
    /// is dark.
    fn finder_pixel(x: usize, y: usize, m: usize) -> bool {
        let (mx, my) = (x / m, y / m);
        let ring = mx == 0 || my == 0 || mx == 6 || my == 6;
        let centre = (2..=4).contains(&mx) && (2..=4).contains(&my);
        ring || centre
    }

    /// A `w` × `h` light bitmap with a finder pattern of `m`-pixel modules centred on
    /// `(cx, cy)`.
    fn bitmap_with_finder_in(w: usize, h: usize, cx: usize, cy: usize, m: usize) -> Bitmap {
        let mut bits = vec![0u8; w * h];
        for y in 0..7 * m {
            for x in 0..7 * m {
                if finder_pixel(x, y, m) {
                    bits[(cy - 7 * m / 2 + y) * w + cx - 7 * m / 2 + x] = 1;
                }
            }
        }
        Bitmap {
            bits,
            width: w,
            height: h,
        }
    }

    fn bitmap_with_finder(cx: usize, cy: usize, m: usize) -> Bitmap {
        bitmap_with_finder_in(120, 100, cx, cy, m)
    }

    #[test]
    fn text_above_a_code_does_not_hide_its_finder() {
        // Seventy shapes that look like a finder pattern along one row only (a cross: the
        // finder's middle row and middle column), as a page's letters do, above one finder.
        let mut bitmap = bitmap_with_finder_in(240, 240, 120, 205, 4);
        for j in 0..7 {
            for i in 0..10 {
                let (x0, y0) = (10 + 22 * i, 10 + 22 * j);
                for k in 0..14 {
                    if finder_pixel(k, 7, 2) {
                        bitmap.bits[(y0 + 7) * 240 + x0 + k] = 1;
                    }
                    for x in [x0 + 6, x0 + 7] {
                        if finder_pixel(7, k, 2) {
                            bitmap.bits[(y0 + k) * 240 + x] = 1;
                        }
                    }
                }
            }
        }
        let search = find_finders(&bitmap, 2);
        assert!(search.glimpsed);
        assert_eq!(search.finders.len(), 1, "{:?}", search.finders);
        let f = search.finders[0];
        assert!(
            (f.x - 120.0).abs() < 2.0 && (f.y - 205.0).abs() < 2.0,
            "{f:?}"
        );
    }

    #[test]
    fn finds_a_finder_pattern_and_its_centre() {
        let bitmap = bitmap_with_finder(60, 50, 4);
        let found = find_finders(&bitmap, 2).finders;
        assert_eq!(found.len(), 1, "{found:?}");
        let f = found[0];
        assert!(f.dark);
        assert!(
            (f.x - 60.0).abs() < 2.0 && (f.y - 50.0).abs() < 2.0,
            "{f:?}"
        );
        assert!((f.module - 4.0).abs() < 1.0, "{f:?}");
        let inverted = Bitmap {
            bits: bitmap.bits.iter().map(|&b| b ^ 1).collect(),
            ..bitmap
        };
        let found = find_finders(&inverted, 2).finders;
        assert!(
            !found.is_empty() && found.iter().all(|f| !f.dark),
            "{found:?}"
        );
    }

    /// A dark finder candidate of `module`-pixel modules centred on (`x`, `y`).
    fn finder_at(x: f32, y: f32, module: f32) -> Finder {
        Finder {
            x,
            y,
            module,
            hits: 4,
            dark: true,
        }
    }

    #[test]
    fn the_code_box_holds_the_code_and_leaves_out_look_alikes_of_the_page_text() {
        // A 33-module code of 4-pixel modules at (200, 100): finder centres 26 modules apart.
        let code = [
            finder_at(214.0, 114.0, 4.0),
            finder_at(318.0, 114.0, 4.0),
            finder_at(214.0, 218.0, 4.0),
        ];
        let (x0, y0, x1, y1) = code_box(&code, 1920, 1080).expect("three corners");
        assert!(
            x0 <= 200 && y0 <= 100 && x1 >= 332 && y1 >= 232,
            "{x0} {y0} {x1} {y1}"
        );
        // Letters of the page that look like finders, far off and of other sizes: the box
        // stays around the code instead of growing over the page.
        let mut page = code.to_vec();
        page.push(finder_at(1500.0, 900.0, 1.5));
        page.push(finder_at(1700.0, 300.0, 2.0));
        assert_eq!(code_box(&page, 1920, 1080), Some((x0, y0, x1, y1)));
        // Three look-alikes that cannot be one code's corners: no box at all.
        let scattered = [
            finder_at(100.0, 100.0, 2.0),
            finder_at(1800.0, 150.0, 2.0),
            finder_at(900.0, 1000.0, 2.0),
        ];
        assert_eq!(code_box(&scattered, 1920, 1080), None);
    }

    #[test]
    fn neighbourhoods_reach_a_code_from_a_finder_and_merge_where_they_overlap() {
        // One finder of a 4-pixel-module code: its code may reach 400 pixels any way.
        let lone = [finder_at(700.0, 500.0, 4.0)];
        assert_eq!(
            neighbourhoods(&lone, 1920, 1080),
            vec![(300, 100, 1101, 901)]
        );
        // Look-alikes in a page's text: small boxes, and one for two that are close.
        let page = [
            finder_at(100.0, 100.0, 1.5),
            finder_at(1800.0, 1000.0, 1.5),
            finder_at(200.0, 150.0, 1.5),
        ];
        let mut boxes = neighbourhoods(&page, 1920, 1080);
        boxes.sort_unstable();
        assert_eq!(boxes, vec![(0, 0, 351, 301), (1650, 850, 1920, 1080)]);
        // A box that merges two others which did not overlap each other: one box.
        let chain = [
            finder_at(100.0, 100.0, 1.0),
            finder_at(400.0, 100.0, 1.0),
            finder_at(250.0, 100.0, 1.0),
        ];
        assert_eq!(neighbourhoods(&chain, 1920, 1080), vec![(0, 0, 501, 201)]);
    }
}

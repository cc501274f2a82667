//! The decoding pipeline. Most camera frames hold no code: they must cost little, so the
//! decoders only run where finder patterns are seen, and only on the part of the image around
//! them.
//!
//! 1. Frames bigger than 1080p (photos, 4K streams) are downscaled by a whole factor (box
//!    average) to a working size; camera frames up to 1080p are read at full resolution.
//! 2. The working image is binarised with a local, rotation-independent threshold.
//! 3. Finder patterns are searched for, of both polarities. Nothing like one: no code, stop
//!    here. Only candidates confirmed by a single row, or no text from the bitmap decoders
//!    of step 4: steps 2–4 once more with a tighter threshold neighbourhood (blur, glare,
//!    low contrast).
//! 4. The region around each group of finders that could be one code's corners (normal, or
//!    inverted for light-on-dark codes) goes through the first method: `rxing`'s port of
//!    zxing-cpp's QR detector and decoder, fed our bitmap. Where no three finders of a
//!    polarity could be, the detector searches for the code's other finders itself, in the
//!    neighbourhood of each finder seen (as far as a code reaches from its corner), not over
//!    the whole image: a page's text that looks like finders costs little. Light finders
//!    count only where three of them could be an inverted code's corners: alone, they are
//!    the gaps of a page's dark text.
//! 5. Where finders were seen but nothing was read, the second methods, each only if the one
//!    before failed: `rqrr` on the same bitmap region; zxing's hybrid binariser (as
//!    `rxing`'s) on the grey region (or neighbourhoods); then `rxing`'s detector on the
//!    finders' neighbourhoods, in case the region was drawn around the wrong finders; last,
//!    where the finders seen by either threshold are small (modules under 3.5 pixels),
//!    steps 2–4 and `rqrr` on their region at twice the resolution, and on each code region
//!    turned a quarter turn.
//! 6. Where a downscaled frame showed finders but gave no text, steps 2–5 again at full
//!    resolution, on the region of the code; where a frame read at full resolution (720p)
//!    did, steps 2–5 again at half resolution (blur, moiré; without `rqrr`, only the grey
//!    look of step 5: [`HALF_LOOKS`]), then steps 2–4 and `rqrr` on the finders'
//!    neighbourhoods turned a quarter turn. Where a big photo (downscaled by 3 or more)
//!    showed nothing at all, steps 2–6 again at twice the resolution.
//!
//! An image read alone takes every look of steps 5 and 6 (the costlier ones are [`Look`]s);
//! a camera stream's frame takes the cheap ones and one costly look, with a bound on the
//! searches of the finders' neighbourhoods ([`Effort`]; see the `stream` module).
//!
//! Every decoder call runs inside `catch_unwind` (`rqrr` is known to panic on odd geometry),
//! so no input makes this module panic.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

use rxing::common::cpp_essentials::DecoderResult;
use rxing::common::{
    BitArray, BitFieldBaseType, BitMatrix, DetectorRXingResult, BIT_FIELD_BASE_BITS,
};
use rxing::qrcode::cpp_port::decoder::Decode;
use rxing::qrcode::cpp_port::detector::{FindFinderPatterns, GenerateFinderPatternSets, SampleQR};

use super::binarize::{hybrid, pack_word, Bitmap, Blocks, RADIUS, TIGHT_RADIUS};
use super::finder::{
    code_box, corner_triples, find_finders, grown, neighbourhoods, Finder, MIN_CODE_SIDE,
};
use super::frame::{Gray, Plane};

/// Frames are downscaled by whole factors until their short side is about this many pixels.
/// A 1080p camera frame stays whole: halved, a code seen from arm's length off a monitor
/// (modules of 2–3.5 camera pixels) loses its finders, and the monitor set reads 109 of 200
/// frames instead of 113 (bench/scan_vs_zxing.sh); an empty 1080p frame costs no more whole,
/// as a page's text no longer looks like finder patterns.
const WORKING_SHORT_SIDE: usize = 1100;
/// Images read at full resolution whose short side is at least this many pixels get a look
/// at half resolution when finders were seen but nothing was read.
const HALF_LOOK_FROM: usize = 400;
/// The costlier looks the half-resolution look takes inside it. Its closer, turned and
/// around looks read, on the monitor sets and sequences, only through `rqrr`; without it (the
/// mobile library) they read nothing there and cost up to a tenth of a 720p set's time, so
/// the half-resolution look takes the grey look only.
#[cfg(feature = "rqrr")]
const HALF_LOOKS: Looks = Looks::ALL;
#[cfg(not(feature = "rqrr"))]
const HALF_LOOKS: Looks = Looks::NONE.with(Look::Grey);
/// Finder patterns whose modules are narrower than this, in pixels, get a closer look.
const SMALL_MODULE: f32 = 3.5;
/// How far around one or two small finders the closer look reaches, in modules: room for
/// codes of up to about 40 modules a side, whichever corner the finders are.
const MODULES_AROUND: f32 = 40.0;
/// The closer look's region at most this many pixels a side before doubling (at most a
/// 720p frame's pixels after).
const MAX_CLOSER_SIDE: usize = 512;
/// Rows that must confirm a finder pattern.
const MIN_FINDER_HITS: u32 = 2;

/// The costlier looks a read can take after the first (both thresholds, the finder search,
/// the bitmap decoders), each only where finders were seen and nothing was read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// zxing's hybrid binariser (as `rxing`'s reader runs it) and `rxing`'s detector on each
    /// code region's grey pixels (or, for finders that draw none, their neighbourhoods').
    Grey,
    /// `rxing`'s detector on the neighbourhoods of the finders of each polarity that drew a
    /// code region, in case the region was drawn around the wrong finders.
    AroundFinders,
    /// Where the finders are small, their region at twice the resolution.
    Closer,
    /// Each code region turned a quarter turn.
    TurnedRegions,
    /// The image at half resolution (images read whole, of at least [`HALF_LOOK_FROM`]
    /// pixels a side), taking the same looks of step 5.
    Half,
    /// The neighbourhoods of the finders seen, turned a quarter turn (images read whole, of
    /// at least [`HALF_LOOK_FROM`] pixels a side).
    TurnedAround,
}

/// A set of [`Look`]s: which a read may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Looks(u8);

impl Looks {
    /// The first look only.
    pub(crate) const NONE: Looks = Looks(0);
    /// Every look: an image read alone.
    pub(crate) const ALL: Looks = Looks(u8::MAX);

    /// This set and `look`.
    pub(crate) const fn with(self, look: Look) -> Looks {
        Looks(self.0 | 1 << look as u8)
    }

    fn has(self, look: Look) -> bool {
        self.0 & 1 << look as u8 != 0
    }
}

/// What a read may spend where the first look gave no text: the costlier looks it may take,
/// and how many more times it may run `rxing`'s own finder search over the neighbourhoods of
/// a polarity's finders (on a frame full of finder-like texture, they can cover most of it:
/// up to 25 ms at 1080p), shared with the looks inside.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effort<'a> {
    looks: Looks,
    searches: &'a Cell<u32>,
}

impl<'a> Effort<'a> {
    /// `looks`, and as many searches of finders' neighbourhoods as `searches` holds.
    pub(crate) fn new(looks: Looks, searches: &'a Cell<u32>) -> Self {
        Effort { looks, searches }
    }

    /// The same budget for a look inside this one, which takes no costlier looks.
    fn nested(self) -> Self {
        Effort {
            looks: Looks::NONE,
            ..self
        }
    }

    /// The same budget, taking only those of its looks that are also in `looks`.
    fn within(self, looks: Looks) -> Self {
        Effort {
            looks: Looks(self.looks.0 & looks.0),
            ..self
        }
    }

    /// Whether one more search of finders' neighbourhoods fits, counting it if so.
    fn take_search(self) -> bool {
        let left = self.searches.get();
        self.searches.set(left.saturating_sub(1));
        left > 0
    }
}

/// What one look at an image found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The texts of the codes decoded, in the order found.
    pub texts: Vec<String>,
    /// Whether anything like a finder pattern was seen (a code may be there, unreadable).
    pub finders_seen: bool,
    /// Where nothing was read: the neighbourhoods of the finders either threshold saw, where
    /// their code would be.
    pub around: Vec<Region>,
}

/// A rectangle of an image: `(x0, y0, x1, y1)`, ends exclusive.
pub(crate) type Region = (usize, usize, usize, usize);

/// Reads every QR code it can find in `plane`, taking every look.
pub(crate) fn read(plane: &Plane<'_>) -> Found {
    let unlimited = Cell::new(u32::MAX);
    read_located(plane, Effort::new(Looks::ALL, &unlimited)).0
}

/// Reads every QR code it can find in `plane`, spending up to `effort` where needed, and
/// gives the region (in `plane`'s pixels) where the code read, or the finder patterns seen,
/// lie, when known.
pub(crate) fn read_located(plane: &Plane<'_>, effort: Effort<'_>) -> (Found, Option<Region>) {
    let mut factor = (plane.width.min(plane.height) / WORKING_SHORT_SIDE).max(1);
    loop {
        if factor == 1 {
            let (found, region) = look(plane, effort);
            if !found.texts.is_empty()
                || !found.finders_seen
                || plane.width.min(plane.height) < HALF_LOOK_FROM
            {
                return (found, region);
            }
            // Finders but no text: one more look at half resolution, where a blurred code's
            // edges are sharper per pixel and the box average evens out moiré and noise.
            if effort.looks.has(Look::Half) {
                let half_effort = effort.within(HALF_LOOKS);
                let (half, half_region) = look(&Gray::downscaled(plane, 2).plane(), half_effort);
                if !half.texts.is_empty() {
                    return (half, half_region.map(|r| scaled(r, 2, plane)));
                }
            }
            // Last, the finders' neighbourhoods turned a quarter turn: the finder searches
            // scan rows, and across the code's other axis its finders can show where they did
            // not.
            for &area in found
                .around
                .iter()
                .filter(|_| effort.looks.has(Look::TurnedAround))
            {
                let turned = Gray::turned(&sub_plane(plane, area));
                let (turned_look, _) = look(&turned.plane(), effort.nested());
                if !turned_look.texts.is_empty() {
                    return (turned_look, None);
                }
            }
            return (found, region);
        }
        let small = Gray::downscaled(plane, factor);
        let (found, region) = look(&small.plane(), effort);
        let region = region.map(|r| scaled(r, factor, plane));
        if !found.texts.is_empty() {
            return (found, region);
        }
        if found.finders_seen {
            // Finder patterns, but no code: the modules may be too small at this scale.
            let crop = region.unwrap_or((0, 0, plane.width, plane.height));
            let (full, full_region) = look(&sub_plane(plane, crop), effort);
            let found = Found {
                finders_seen: true,
                ..full
            };
            return (found, full_region.map(|r| shifted(r, crop)).or(region));
        }
        // Nothing at all. Camera frames (downscaled by 2 at most) stop here: most frames hold
        // no code and must stay cheap. Big photos may hold a code too small for this scale:
        // look again at twice the resolution.
        if factor <= 2 {
            return (found, None);
        }
        factor /= 2;
    }
}

/// `region` of an image downscaled by `factor`, in the pixels of `plane`.
fn scaled((x0, y0, x1, y1): Region, factor: usize, plane: &Plane<'_>) -> Region {
    (
        x0 * factor,
        y0 * factor,
        (x1 * factor).min(plane.width),
        (y1 * factor).min(plane.height),
    )
}

/// `region` of the part of an image that starts at `within`'s corner, in the whole image's
/// pixels.
pub(crate) fn shifted((x0, y0, x1, y1): Region, within: Region) -> Region {
    (x0 + within.0, y0 + within.1, x1 + within.0, y1 + within.1)
}

/// Steps 2–5 on one image, spending up to `effort` on the costlier looks of step 5; also
/// gives the region where the code should be, when known. A look inside another (closer,
/// turned) takes none of them: they never read a code there that the look's caller missed
/// (the monitor sets and the photo corpus), and would cost most of a failed frame's time.
pub(crate) fn look(plane: &Plane<'_>, effort: Effort<'_>) -> (Found, Option<Region>) {
    let looks = effort.looks;
    let mut found = Found::default();
    // The bitmap (and its candidates) of the first binarisation that showed finders.
    let mut first = None;
    // The regions of small finders, of both binarisations, for the closer look.
    let mut small_regions: Vec<Region> = Vec::new();
    // The finders of both binarisations, for the looks at their neighbourhoods.
    let mut seen: Vec<Finder> = Vec::new();
    // A second binarisation with a tighter neighbourhood, where the first showed only weak
    // finder candidates or its bitmap gave no text: it follows a blurred code's local
    // contrast and a glare gradient more closely (a code on a monitor, seen from a slant).
    let blocks = Blocks::of(plane);
    for radius in [RADIUS, TIGHT_RADIUS] {
        let bitmap = blocks.binarize(radius);
        let search = find_finders(&bitmap, MIN_FINDER_HITS);
        // Nothing even confirmed by a single row: no code (most frames), no second look.
        if !search.glimpsed {
            break;
        }
        let finders = without_page_text(search.finders);
        if finders.is_empty() {
            continue;
        }
        found.finders_seen = true;
        let candidates = code_candidates(&finders, &bitmap);
        if let Some(region) = read_bits(&bitmap, &candidates, &mut found.texts, effort) {
            return (found, region);
        }
        for region in small_code_regions(&finders, &candidates, plane) {
            if !small_regions.contains(&region) {
                small_regions.push(region);
            }
        }
        seen.extend_from_slice(&finders);
        first.get_or_insert((bitmap, candidates));
    }
    let Some((bitmap, candidates)) = first else {
        return (found, None);
    };
    found.around = neighbourhoods(&seen, plane.width, plane.height);
    for candidate in candidates.iter().filter(|_| looks.has(Look::Grey)) {
        for &area in candidate.areas() {
            if let Some(text) = grey_read(&sub_plane(plane, area), candidate.invert) {
                found.texts.push(text);
                return (found, candidate.region);
            }
        }
    }
    // The regions may have been drawn around the wrong finders: their neighbourhoods, where
    // the detector searches for finders itself.
    for candidate in candidates
        .iter()
        .filter(|c| c.region.is_some() && looks.has(Look::AroundFinders))
    {
        if !effort.take_search() {
            break;
        }
        for &area in &candidate.around {
            found.texts = zxing_read_bits(&bitmap, area, candidate.invert, RowScan::EveryThird);
            if !found.texts.is_empty() {
                return (found, None);
            }
        }
    }
    // Finders of modules so small that a pixel is a third of one: the region at twice the
    // resolution, where the binariser and the detector place edges between today's pixels.
    // Each threshold finds small finders the other misses: the regions of both.
    for region in small_regions
        .into_iter()
        .filter(|_| looks.has(Look::Closer))
    {
        let doubled = Gray::doubled(&sub_plane(plane, region));
        let (closer_look, _) = look(&doubled.plane(), effort.nested());
        if !closer_look.texts.is_empty() {
            found.texts = closer_look.texts;
            return (found, Some(region));
        }
    }
    // The finder searches scan rows: across a code's other axis, a region's finders and
    // timing lines can read where they did not.
    for region in candidates
        .iter()
        .filter_map(|c| c.region)
        .filter(|_| looks.has(Look::TurnedRegions))
    {
        let turned = Gray::turned(&sub_plane(plane, region));
        let (turned_look, _) = look(&turned.plane(), effort.nested());
        if !turned_look.texts.is_empty() {
            found.texts = turned_look.texts;
            return (found, Some(region));
        }
    }
    (found, candidates.iter().find_map(|c| c.region))
}

/// Where finder patterns of modules under [`SMALL_MODULE`] pixels were seen: for each
/// polarity, the region of their code when they make one, else (one or two finders) a box
/// [`MODULES_AROUND`] modules around them; regions wider or taller than
/// [`MAX_CLOSER_SIDE`] are left out.
fn small_code_regions(
    finders: &[Finder],
    candidates: &[Candidate],
    plane: &Plane<'_>,
) -> Vec<Region> {
    candidates
        .iter()
        .filter_map(|&Candidate { region, invert, .. }| {
            let group: Vec<&Finder> = finders.iter().filter(|f| f.dark != invert).collect();
            let module = group.iter().map(|f| f.module).sum::<f32>() / group.len() as f32;
            if module >= SMALL_MODULE {
                return None;
            }
            let region = match region {
                Some(region) => region,
                None if group.len() <= 2 => {
                    let (xs, ys) = (group.iter().map(|f| f.x), group.iter().map(|f| f.y));
                    let (x0, x1) = xs.fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
                    let (y0, y1) = ys.fold((f32::MAX, f32::MIN), |(a, b), y| (a.min(y), b.max(y)));
                    let reach = MODULES_AROUND * module;
                    grown((x0, y0, x1, y1), reach, plane.width, plane.height)
                }
                None => return None,
            };
            let (w, h) = (region.2 - region.0, region.3 - region.1);
            (w.max(h) <= MAX_CLOSER_SIDE && w.min(h) >= MIN_CODE_SIDE).then_some(region)
        })
        .collect()
}

/// Where the finders of one polarity say its code may be.
struct Candidate {
    /// The region of the code that three of the finders could be the corners of.
    region: Option<Region>,
    /// Whether the code is inverted (light on dark).
    invert: bool,
    /// The finders' neighbourhoods: where the code would be, were any of them its corner.
    around: Vec<Region>,
}

impl Candidate {
    /// Where to read: the code's region, else the finders' neighbourhoods.
    fn areas(&self) -> &[Region] {
        match &self.region {
            Some(region) => std::slice::from_ref(region),
            None => &self.around,
        }
    }
}

/// The finders worth the decoders' time: the dark ones, and the light ones only where three
/// of them could be one code's corners. Light finders of which no three could be are a page's
/// text (the light gaps between dark strokes look like a light-on-dark finder's middle, a
/// dozen of them on a page seen from afar): searching their neighbourhoods, and the costlier
/// looks they led to, cost up to 40 ms a frame and read no frame of the monitor sets or photo
/// of the corpus. An inverted code is still read where three of its finders are seen.
fn without_page_text(mut finders: Vec<Finder>) -> Vec<Finder> {
    let light: Vec<Finder> = finders.iter().filter(|f| !f.dark).copied().collect();
    if !light.is_empty() && corner_triples(&light).next().is_none() {
        finders.retain(|f| f.dark);
    }
    finders
}

/// A candidate for each polarity with finders.
fn code_candidates(finders: &[Finder], bitmap: &Bitmap) -> Vec<Candidate> {
    let (w, h) = (bitmap.width, bitmap.height);
    let mut candidates: Vec<Candidate> = Vec::with_capacity(2);
    for invert in [false, true] {
        let group: Vec<Finder> = finders
            .iter()
            .filter(|f| f.dark != invert)
            .copied()
            .collect();
        if group.is_empty() {
            continue;
        }
        let region = code_box(&group, w, h);
        candidates.push(Candidate {
            region,
            invert,
            around: neighbourhoods(&group, w, h),
        });
    }
    candidates
}

/// The decoders that read our bitmap, on each candidate's region: `rxing`'s detector, then
/// `rqrr` where built in. For a candidate without a region, `rxing`'s detector searches the
/// finders' neighbourhoods, while `effort` allows. Puts the texts read in `texts` and gives
/// the region they came from, or `None` when nothing was read.
fn read_bits(
    bitmap: &Bitmap,
    candidates: &[Candidate],
    texts: &mut Vec<String>,
    effort: Effort<'_>,
) -> Option<Option<Region>> {
    for candidate in candidates {
        if candidate.region.is_none() && !effort.take_search() {
            continue;
        }
        for &area in candidate.areas() {
            *texts = zxing_read_bits(bitmap, area, candidate.invert, RowScan::EveryThird);
            if !texts.is_empty() {
                return Some(candidate.region);
            }
        }
    }
    #[cfg(feature = "rqrr")]
    for &Candidate { region, invert, .. } in candidates {
        if let Some(region) = region {
            *texts = rqrr_read(bitmap, region, invert);
            if !texts.is_empty() {
                return Some(Some(region));
            }
        }
    }
    None
}

/// Which rows `rxing`'s finder search scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowScan {
    /// Every third row, for codes of any density (its "try harder").
    EveryThird,
    /// Rows as far apart as a version-20 code a quarter of the image tall allows, every third
    /// at the most (its quick search, as `rxing`'s own reader runs it).
    Spaced,
}

/// Runs `rxing`'s port of zxing-cpp's QR detector and decoder on a region of our bitmap
/// (`invert`: swapping dark and light; `rows`: the rows its finder search scans), catching
/// any panic; gives the text of every code it reads there.
fn zxing_read_bits(
    bitmap: &Bitmap,
    (x0, y0, x1, y1): Region,
    invert: bool,
    rows: RowScan,
) -> Vec<String> {
    let w = bitmap.width;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let width = x1 - x0;
        let mut matrix = BitMatrix::new(width as u32, (y1 - y0) as u32).ok()?;
        let mut row = BitArray::with_size(width);
        let flip = if invert { BitFieldBaseType::MAX } else { 0 };
        for y in y0..y1 {
            // A word of the matrix's row at a time: its lowest bit is the leftmost pixel.
            for (word, pixels) in bitmap.bits[y * w + x0..y * w + x1]
                .chunks(BIT_FIELD_BASE_BITS)
                .enumerate()
            {
                let valid = BitFieldBaseType::MAX >> (BIT_FIELD_BASE_BITS - pixels.len());
                row.setBulk(
                    word * BIT_FIELD_BASE_BITS,
                    (pack_word(pixels) as BitFieldBaseType ^ flip) & valid,
                );
            }
            matrix.setRow((y - y0) as u32, &row);
        }
        Some(decode_matrix(&matrix, rows))
    }));
    result.ok().flatten().unwrap_or_default()
}

/// The texts of the QR codes `rxing`'s detector finds in a binarised image (`rows`: the rows
/// its finder search scans), each set of finder patterns used once. The caller catches panics.
fn decode_matrix(matrix: &BitMatrix, rows: RowScan) -> Vec<String> {
    let mut patterns = FindFinderPatterns(matrix, rows == RowScan::EveryThird, 0);
    let mut used = Vec::new();
    let mut texts = Vec::new();
    for set in GenerateFinderPatternSets(&mut patterns) {
        if [set.bl, set.tl, set.tr].iter().any(|p| used.contains(p)) {
            continue;
        }
        let Ok(detected) = SampleQR(matrix, &set) else {
            continue;
        };
        match Decode(detected.getBits()) {
            Ok(decoded) if decoded.isValid() => {
                used.extend([set.bl, set.tl, set.tr]);
                texts.push(text_of(&decoded));
            }
            _ => {}
        }
    }
    texts
}

/// The text of a decoded code. With the `charsets` feature (desktop builds), as `rxing`
/// converts it: any ECI, Shift_JIS and other legacy encodings guessed. Without it (the mobile
/// library), UTF-8, else ISO-8859-1 (the QR default): what IB Key's codes and the links an
/// authenticator meets use. A code in another encoding still reads, as a foreign code, and
/// `rxing`'s tables of Asian character sets (about 150 KB) stay out of the library.
fn text_of(decoded: &DecoderResult<bool>) -> String {
    #[cfg(feature = "charsets")]
    {
        decoded.text()
    }
    #[cfg(not(feature = "charsets"))]
    {
        let bytes = decoded.content().bytes();
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
        }
    }
}

/// The part of `plane` in `region` (which must lie inside it), without copying.
pub(crate) fn sub_plane<'a>(plane: &Plane<'a>, (x0, y0, x1, y1): Region) -> Plane<'a> {
    let start = y0 * plane.stride + x0;
    let end = (y1 - 1) * plane.stride + x1;
    Plane {
        data: &plane.data[start..end],
        width: x1 - x0,
        height: y1 - y0,
        stride: plane.stride,
    }
}

#[cfg(feature = "rqrr")]
/// Runs `rqrr` on a region of a bitmap (1 = dark; `invert` swaps), catching any panic.
fn rqrr_read(bitmap: &Bitmap, (x0, y0, x1, y1): Region, invert: bool) -> Vec<String> {
    let w = bitmap.width;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(x1 - x0, y1 - y0, |x, y| {
            (bitmap.bits[(y + y0) * w + x + x0] != 0) != invert
        });
        image
            .detect_grids()
            .iter()
            .filter_map(|grid| {
                let mut bytes = Vec::new();
                grid.decode_to(&mut bytes).ok()?;
                // Every activation code, and most others, are UTF-8; a code in another
                // encoding is left to the second method, which knows them, rather than read
                // as a wrong text.
                String::from_utf8(bytes).ok()
            })
            .collect::<Vec<_>>()
    }));
    result.unwrap_or_default()
}

/// The grey look on a plane: zxing's hybrid threshold ([`hybrid`]; `invert` for light
/// finders), then `rxing`'s detector with its quicker finder search, as `rxing`'s own reader
/// runs them; gives the first text read. A plane under five blocks a side gets no grey look:
/// a code there has modules under two pixels, which the closer look is for.
fn grey_read(plane: &Plane<'_>, invert: bool) -> Option<String> {
    let bitmap = hybrid(plane, invert)?;
    let whole = (0, 0, bitmap.width, bitmap.height);
    zxing_read_bits(&bitmap, whole, false, RowScan::Spaced)
        .into_iter()
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1280×720 light frame with `text`'s code (3 pixels a module) at (900, 400) and ten
    /// finder look-alikes of 2-pixel modules in its top left corner, as a page's text gives.
    fn code_among_look_alikes(text: &str) -> Gray {
        let (width, height) = (1280, 720);
        let mut data = vec![200u8; width * height];
        let code = crate::scan::render_luma(text, 3).expect("render");
        let side = code.width() as usize;
        for row in 0..side {
            let start = (400 + row) * width + 900;
            data[start..start + side].copy_from_slice(&code.as_raw()[row * side..][..side]);
        }
        for (i, j) in (0..5).flat_map(|i| (0..2).map(move |j| (i, j))) {
            let (x0, y0) = (20 + 40 * i, 30 + 40 * j);
            for (dy, dx) in (0..14).flat_map(|dy| (0..14).map(move |dx| (dy, dx))) {
                let (mx, my) = (dx / 2, dy / 2);
                let ring = mx == 0 || my == 0 || mx == 6 || my == 6;
                let centre = (2..=4).contains(&mx) && (2..=4).contains(&my);
                if ring || centre {
                    data[(y0 + dy) * width + x0 + dx] = 20;
                }
            }
        }
        Gray {
            data,
            width,
            height,
        }
    }

    #[test]
    fn a_code_among_many_finder_look_alikes_reads_through_the_search_around_the_finders() {
        let text = "https://example.com/ibkey/neighbourhoods";
        let frame = code_among_look_alikes(text);
        let plane = frame.plane();
        // Thirteen finders: too many to pair up, so no code region, and the detector searches
        // around them: a box for the look-alikes, one for the code, not the whole frame.
        let bitmap = Blocks::of(&plane).binarize(RADIUS);
        let finders = find_finders(&bitmap, MIN_FINDER_HITS).finders;
        assert!(finders.len() > 8, "{finders:?}");
        let candidates = code_candidates(&finders, &bitmap);
        let dark = candidates.iter().find(|c| !c.invert).expect("dark finders");
        assert_eq!(dark.region, None);
        assert_eq!(dark.around.len(), 2, "{:?}", dark.around);
        let holds_code =
            |&(x0, y0, x1, y1): &Region| x0 <= 900 && y0 <= 400 && x1 >= 900 + 99 && y1 >= 400 + 99;
        assert!(dark.around.iter().any(holds_code), "{:?}", dark.around);
        assert!(!dark.around.contains(&(0, 0, 1280, 720)));
        assert_eq!(read(&plane).texts, vec![text.to_string()]);
    }

    #[test]
    fn light_look_alikes_alone_are_not_searched_and_an_inverted_code_among_them_reads() {
        // The frame above inverted: light finder look-alikes on a dark page (as the gaps
        // between a page's strokes give), and a light-on-dark code among them.
        let text = "https://example.com/ibkey/inverted";
        let mut frame = code_among_look_alikes(text);
        frame.data.iter_mut().for_each(|v| *v = 255 - *v);
        assert_eq!(read(&frame.plane()).texts, vec![text.to_string()]);
        // The first row of look-alikes alone: five light finders in a line, no three of them
        // a code's corners, so no decoder and no costlier look runs.
        for y in 380..720 {
            frame.data[y * 1280 + 880..(y + 1) * 1280].fill(55);
        }
        for y in 66..90 {
            frame.data[y * 1280..y * 1280 + 240].fill(55);
        }
        let plane = frame.plane();
        let bitmap = Blocks::of(&plane).binarize(RADIUS);
        let finders = find_finders(&bitmap, MIN_FINDER_HITS).finders;
        assert!(
            finders.len() == 5 && finders.iter().all(|f| !f.dark),
            "{finders:?}"
        );
        let found = read(&plane);
        assert!(found.texts.is_empty() && !found.finders_seen, "{found:?}");
    }

    #[test]
    fn light_finders_count_only_where_they_draw_a_code_of_their_own() {
        let finder = |x: f32, y: f32, dark: bool| Finder {
            x,
            y,
            module: 4.0,
            hits: 3,
            dark,
        };
        let bitmap = Bitmap {
            bits: vec![0; 1280 * 720],
            width: 1280,
            height: 720,
        };
        let code = |x: f32, y: f32, dark: bool| {
            [
                finder(x, y, dark),
                finder(x + 120.0, y, dark),
                finder(x, y + 120.0, dark),
            ]
        };
        let polarities = |finders: &[Finder]| -> Vec<(bool, bool)> {
            let worth = without_page_text(finders.to_vec());
            code_candidates(&worth, &bitmap)
                .iter()
                .map(|c| (c.invert, c.region.is_some()))
                .collect()
        };
        // A dark code and a light finder of the page's text: the dark code only.
        let mut finders = code(200.0, 200.0, true).to_vec();
        finders.push(finder(900.0, 500.0, false));
        assert_eq!(polarities(&finders), vec![(false, true)]);
        // The light finder alone: nothing. Beside a dark finder that draws no code: the dark
        // finder only, searched around.
        assert_eq!(polarities(&finders[3..]), vec![]);
        assert_eq!(polarities(&finders[2..]), vec![(false, false)]);
        // Light finders that draw a code of their own: that code, alone or beside a dark one,
        // with a light finder of the page's text beside them.
        let mut light = code(800.0, 300.0, false).to_vec();
        light.push(finder(100.0, 650.0, false));
        assert_eq!(polarities(&light), vec![(true, true)]);
        let mut both = code(200.0, 200.0, true).to_vec();
        both.extend(light);
        assert_eq!(polarities(&both), vec![(false, true), (true, true)]);
    }
}

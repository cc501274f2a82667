//! Reading a camera stream rather than single frames. A phone delivers about 30 frames a
//! second while the hand moves; what one frame shows, the next mostly shows again. Four
//! things a single-frame decoder cannot do:
//!
//! 1. **Look first where the code was.** Once a code or its finder patterns were seen, the
//!    next frames look at that region first, at full resolution, before the whole frame is
//!    downscaled: a code whose modules are too small for the working scale reads there, and
//!    a frame with the code in view costs less.
//! 2. **Spread the costly looks over the frames.** An image read alone takes every look of
//!    the detector where finders were seen but nothing was read. A stream's frame takes the
//!    cheap ones and one costly look, the next in turn ([`STEPS`]), and lets `rxing`'s
//!    detector search finders' neighbourhoods at most [`SEARCHES_PER_FRAME`] times. The
//!    code stays in view for many frames, so each look soon runs, each time on a new frame,
//!    and a frame that reads nothing costs a few frames' time rather than dozens.
//! 3. **Average across frames.** Where finders were seen but nothing was read, the region is
//!    kept; the next frame's same region is averaged with it. Sensor noise and the moiré of
//!    a monitor's pixel grid change from frame to frame while the code does not (hand shake
//!    moves it by less than a module between two frames at 30 fps), so the average is
//!    cleaner than either.
//! 4. **Vary the look.** Such a frame's region is also read sharpened, halved or smoothed, a
//!    different one each time.

use std::cell::Cell;

use super::detect::{self, look, shifted, sub_plane, Effort, Found, Look, Looks, Region};
use super::frame::{Filter, Gray, Plane};

/// Frames in a row without finder patterns after which the remembered region is dropped.
const HINT_FRAMES: u32 = 6;
/// How far around the remembered region the first look reaches, as a fraction of its side:
/// room for the hand's movement between frames.
const HINT_MARGIN: f32 = 0.25;

/// The detector's looks every frame takes where finders were seen and nothing was read: the
/// cheap ones.
const EVERY_FRAME: Looks = Looks::NONE.with(Look::AroundFinders).with(Look::Closer);
/// Searches of finders' neighbourhoods by `rxing`'s detector a frame may take, all looks
/// together: what the first look's two thresholds and two polarities need.
const SEARCHES_PER_FRAME: u32 = 4;

/// The detector's costly looks, one a frame in this order.
const STEPS: [Look; 4] = [
    Look::Half,
    Look::TurnedAround,
    Look::Grey,
    Look::TurnedRegions,
];

/// What a camera stream's reader remembers between frames.
#[derive(Default)]
pub(crate) struct StreamMemory {
    /// Where the code or its finders were last seen, in frame pixels, with the frame's size.
    hint: Option<Hint>,
    /// The grey region of the last frame that showed finders but gave no text.
    previous: Option<Kept>,
    /// Frames so far that showed finders but gave no text: picks the next costly look and
    /// the next filter.
    steps: usize,
}

#[derive(Clone, Copy)]
struct Hint {
    region: Region,
    frame: (usize, usize),
    /// Frames since the region was last confirmed.
    age: u32,
}

/// A region's grey pixels, kept for averaging with the next frame.
struct Kept {
    region: Region,
    frame: (usize, usize),
    grey: Gray,
}

impl StreamMemory {
    /// Forgets everything: the next frame is read as the first of a stream.
    pub(crate) fn clear(&mut self) {
        *self = StreamMemory::default();
    }
}

/// Reads the codes in one frame of a stream, using and updating what `memory` holds.
pub(crate) fn read_frame(plane: &Plane<'_>, memory: &mut StreamMemory) -> Found {
    let searches = Cell::new(SEARCHES_PER_FRAME);
    let cheap = Effort::new(EVERY_FRAME, &searches);
    let size = (plane.width, plane.height);
    let hint = memory
        .hint
        .filter(|h| h.frame == size && h.age <= HINT_FRAMES);

    // 1. Where the code was.
    if let Some(hint) = hint {
        let around = widened(hint.region, plane);
        let (found, region) = detect::read_located(&sub_plane(plane, around), cheap);
        if !found.texts.is_empty() {
            memory.hint = region.map(|r| Hint {
                region: shifted(r, around),
                frame: size,
                age: 0,
            });
            memory.previous = None;
            return found;
        }
    }

    // The whole frame, with the cheap looks and this frame's costly one.
    let looks = EVERY_FRAME.with(STEPS[memory.steps % STEPS.len()]);
    let (mut found, region) = detect::read_located(plane, Effort::new(looks, &searches));
    if !found.texts.is_empty() {
        memory.hint = region.map(|region| Hint {
            region,
            frame: size,
            age: 0,
        });
        memory.previous = None;
        return found;
    }
    if found.finders_seen {
        memory.steps = memory.steps.wrapping_add(1);
    }
    let Some(region) = region.filter(|_| found.finders_seen) else {
        // Nothing like a code: the remembered region ages.
        memory.hint = hint.map(|h| Hint {
            age: h.age + 1,
            ..h
        });
        memory.previous = None;
        return found;
    };
    memory.hint = Some(Hint {
        region,
        frame: size,
        age: 0,
    });

    // 3.–4. The code region averaged with the last frame's, then filtered.
    let current = Gray::copied(&sub_plane(plane, region));
    let kept = memory.previous.take().filter(|kept| kept.frame == size);
    if let Some(kept) = kept {
        found.texts = averaged_look(plane, &kept, cheap);
    }
    if found.texts.is_empty() {
        found.texts = filtered_look(&current.plane(), memory.steps, cheap);
    }
    memory.previous = Some(Kept {
        region,
        frame: size,
        grey: current,
    });
    found
}

/// `region` grown by [`HINT_MARGIN`] of its size on every side, within `plane`.
fn widened((x0, y0, x1, y1): Region, plane: &Plane<'_>) -> Region {
    let dx = ((x1 - x0) as f32 * HINT_MARGIN) as usize;
    let dy = ((y1 - y0) as f32 * HINT_MARGIN) as usize;
    (
        x0.saturating_sub(dx),
        y0.saturating_sub(dy),
        (x1 + dx).min(plane.width),
        (y1 + dy).min(plane.height),
    )
}

/// The kept region averaged with the same pixels of this frame, read.
fn averaged_look(plane: &Plane<'_>, kept: &Kept, effort: Effort<'_>) -> Vec<String> {
    let now = sub_plane(plane, kept.region);
    let mut mean = Gray::copied(&now);
    for (y, out) in mean.data.chunks_exact_mut(mean.width).enumerate() {
        let before = &kept.grey.data[y * kept.grey.width..][..kept.grey.width];
        for (o, &b) in out.iter_mut().zip(before) {
            *o = (u16::from(*o) + u16::from(b)).div_ceil(2) as u8;
        }
    }
    look(&mean.plane(), effort).0.texts
}

/// The region sharpened, halved or smoothed, by `turn`, read.
fn filtered_look(region: &Plane<'_>, turn: usize, effort: Effort<'_>) -> Vec<String> {
    let filtered = match turn % 3 {
        0 => Gray::filtered(region, Filter::Sharpen),
        1 if region.width.min(region.height) >= 2 * MIN_LOOK_SIDE => Gray::downscaled(region, 2),
        _ => Gray::filtered(region, Filter::Smooth),
    };
    if filtered.width.min(filtered.height) < MIN_LOOK_SIDE {
        return Vec::new();
    }
    look(&filtered.plane(), effort).0.texts
}

/// Below this side, in pixels, a region cannot hold a code that could be read.
const MIN_LOOK_SIDE: usize = 21;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::render_luma;

    /// A `width`×`height` grey frame with `text`'s code (3 pixels a module) at (`x`, `y`).
    fn frame_with_code(text: &str, width: usize, height: usize, x: usize, y: usize) -> Gray {
        let code = render_luma(text, 3).expect("render");
        let mut data = vec![190u8; width * height];
        let (cw, ch) = (code.width() as usize, code.height() as usize);
        for row in 0..ch {
            let start = (y + row) * width + x;
            data[start..start + cw].copy_from_slice(&code.as_raw()[row * cw..(row + 1) * cw]);
        }
        Gray {
            data,
            width,
            height,
        }
    }

    #[test]
    fn a_stream_looks_where_the_code_was_and_forgets_it_after_empty_frames() {
        let text = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIn0.c2lnbmF0dXJl";
        let mut memory = StreamMemory::default();
        let frame = frame_with_code(text, 1280, 720, 500, 200);
        let found = read_frame(&frame.plane(), &mut memory);
        assert_eq!(found.texts, [text]);
        let hint = memory.hint.expect("the code's region is remembered");
        let (x0, y0, x1, y1) = hint.region;
        assert!(
            x0 <= 500 && y0 <= 200 && x1 > 600 && y1 > 300,
            "{:?}",
            hint.region
        );

        // The code moved a little: read again, from the region looked at first.
        let moved = frame_with_code(text, 1280, 720, 512, 206);
        assert_eq!(read_frame(&moved.plane(), &mut memory).texts, [text]);

        let empty = Gray {
            data: vec![190u8; 1280 * 720],
            width: 1280,
            height: 720,
        };
        for _ in 0..=HINT_FRAMES {
            assert!(read_frame(&empty.plane(), &mut memory).texts.is_empty());
        }
        assert!(memory.hint.is_some_and(|h| h.age > HINT_FRAMES));
        memory.clear();
        assert!(memory.hint.is_none());
    }

    #[test]
    fn a_frame_of_another_size_is_read_whole() {
        let text = "IBK1.abc.def";
        let mut memory = StreamMemory::default();
        let big = frame_with_code(text, 800, 600, 100, 100);
        assert_eq!(read_frame(&big.plane(), &mut memory).texts, [text]);
        // The camera switched resolution: the remembered region does not apply.
        let small = frame_with_code(text, 400, 300, 250, 150);
        assert_eq!(read_frame(&small.plane(), &mut memory).texts, [text]);
    }

    #[test]
    fn frames_with_an_unreadable_code_take_the_costly_looks_in_turn() {
        // A code whose modules between the finder patterns are wiped out: its finders show,
        // nothing can be read.
        let text = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIn0.c2lnbmF0dXJl";
        let mut frame = frame_with_code(text, 1280, 720, 500, 200);
        let side = render_luma(text, 3).expect("render").width() as usize;
        // From the code's edge past its quiet zone and a finder with its separator.
        let past_finder = 4 * 3 + 8 * 3;
        let (inner0, inner1) = (500 + past_finder, 500 + side - past_finder);
        for y in 200 + past_finder..200 + side - past_finder {
            frame.data[y * 1280 + inner0..y * 1280 + inner1].fill(190);
        }
        let mut memory = StreamMemory::default();
        for turn in 1..=STEPS.len() + 1 {
            let found = read_frame(&frame.plane(), &mut memory);
            assert!(found.texts.is_empty() && found.finders_seen);
            assert_eq!(
                memory.steps, turn,
                "one costly look a frame, the next each time"
            );
        }
        // One finder alone draws no code region; the frame still takes its turn.
        let mut lone = frame_with_code(text, 1280, 720, 500, 200);
        for y in 200..200 + side {
            let from = if y < 200 + past_finder {
                500 + past_finder
            } else {
                500
            };
            lone.data[y * 1280 + from..y * 1280 + 500 + side].fill(190);
        }
        let found = read_frame(&lone.plane(), &mut memory);
        assert!(found.texts.is_empty() && found.finders_seen);
        assert_eq!(memory.steps, STEPS.len() + 2);
        // A frame without a code takes no costly look: the turn does not move on.
        let empty = Gray {
            data: vec![190u8; 1280 * 720],
            width: 1280,
            height: 720,
        };
        assert!(read_frame(&empty.plane(), &mut memory).texts.is_empty());
        assert_eq!(memory.steps, STEPS.len() + 2);
    }
}

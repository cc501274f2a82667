//! Camera frames as they come: an 8-bit luma plane with a row stride, checked once, and the
//! downscaled copies the detector works on.

use super::ScanError;

/// The largest width or height accepted, in pixels (a 16K sensor; anything above is a bug or
/// hostile input).
pub const MAX_SIDE: u32 = 16_384;

/// The largest number of pixels accepted in one frame or image (about 100 megapixels).
pub const MAX_PIXELS: u64 = 100_000_000;

/// A borrowed, checked luma plane: `height` rows of `width` bytes, rows `stride` bytes apart.
/// The last row may end right after its `width` bytes (Android's Y planes often do).
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

impl<'a> Plane<'a> {
    /// Checks sizes, stride and buffer length; never panics.
    pub fn new(width: u32, height: u32, stride: u32, data: &'a [u8]) -> Result<Self, ScanError> {
        if width == 0
            || height == 0
            || width > MAX_SIDE
            || height > MAX_SIDE
            || u64::from(width) * u64::from(height) > MAX_PIXELS
        {
            return Err(ScanError::BadFrameSize { width, height });
        }
        if stride < width {
            return Err(ScanError::BadStride { width, stride });
        }
        // Fits in u64 without overflow: every factor is below 2^32.
        let needed = u64::from(stride) * u64::from(height - 1) + u64::from(width);
        if (data.len() as u64) < needed {
            return Err(ScanError::BufferTooSmall {
                needed,
                actual: data.len() as u64,
            });
        }
        Ok(Plane {
            data,
            width: width as usize,
            height: height as usize,
            stride: stride as usize,
        })
    }

    /// Row `y`, exactly `width` bytes. `y` must be below `height`.
    #[inline]
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }
}

/// A 3×3 filter for [`Gray::filtered`].
#[derive(Clone, Copy)]
pub(crate) enum Filter {
    /// The mean of the 3×3 neighbourhood: evens out noise and moiré.
    Smooth,
    /// The pixel pushed away from its neighbourhood's mean: sharpens blurred edges.
    Sharpen,
}

/// An owned, tightly packed luma image (stride = width).
pub(crate) struct Gray {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// The rounded means of four boxes of two by two pixels: `a` and `b` are eight pixels of two
/// rows, the first pixel lowest; the four means come first lowest. Each box's sum takes a
/// 16-bit lane of one word.
fn average_fours(a: u64, b: u64) -> u32 {
    const LOW: u64 = 0x00FF_00FF_00FF_00FF;
    let sums = (a & LOW) + ((a >> 8) & LOW) + (b & LOW) + ((b >> 8) & LOW);
    let means = ((sums + 0x0002_0002_0002_0002) >> 2) & LOW;
    // The four lanes' low bytes side by side.
    let pairs = (means | (means >> 8)) & 0x0000_FFFF_0000_FFFF;
    (pairs | (pairs >> 16)) as u32
}

/// Transposes eight rows of eight bytes (byte `k` of a word is column `k`): afterwards word
/// `j` holds column `j`, its byte `i` from row `i`. Swaps bytes, then pairs, then fours
/// across the diagonal.
fn transpose_eight(rows: &mut [u64; 8]) {
    for (shift, mask) in [
        (8, 0x00FF_00FF_00FF_00FF_u64),
        (16, 0x0000_FFFF_0000_FFFF),
        (32, 0x0000_0000_FFFF_FFFF),
    ] {
        let step = shift / 8;
        for i in (0..8).filter(|i| i & step == 0) {
            let (a, b) = (rows[i], rows[i + step]);
            rows[i] = (a & mask) | ((b & mask) << shift);
            rows[i + step] = ((a >> shift) & mask) | (b & !mask);
        }
    }
}

impl Gray {
    /// Borrows this image as a plane.
    pub fn plane(&self) -> Plane<'_> {
        Plane {
            data: &self.data,
            width: self.width,
            height: self.height,
            stride: self.width,
        }
    }

    /// A packed copy of `plane`.
    pub fn copied(plane: &Plane<'_>) -> Gray {
        let mut data = Vec::with_capacity(plane.width * plane.height);
        for y in 0..plane.height {
            data.extend_from_slice(plane.row(y));
        }
        Gray {
            data,
            width: plane.width,
            height: plane.height,
        }
    }

    /// `plane` through a 3×3 filter (the border rows and columns kept as they are).
    pub fn filtered(plane: &Plane<'_>, filter: Filter) -> Gray {
        let mut out = Gray::copied(plane);
        let (w, h) = (plane.width, plane.height);
        if w < 3 || h < 3 {
            return out;
        }
        for y in 1..h - 1 {
            let (above, row, below) = (plane.row(y - 1), plane.row(y), plane.row(y + 1));
            let line = &mut out.data[y * w..(y + 1) * w];
            for x in 1..w - 1 {
                let sum: i32 = [above, row, below]
                    .iter()
                    .map(|r| i32::from(r[x - 1]) + i32::from(r[x]) + i32::from(r[x + 1]))
                    .sum();
                let value = match filter {
                    Filter::Smooth => (sum + 4) / 9,
                    // The pixel pushed away from its neighbourhood's mean: 2p - mean.
                    Filter::Sharpen => 2 * i32::from(row[x]) - (sum + 4) / 9,
                };
                line[x] = value.clamp(0, 255) as u8;
            }
        }
        out
    }

    /// `plane` at twice its width and height, each new pixel interpolated between the four
    /// nearest (bilinear, pixel centres aligned): a code with modules of two or three pixels
    /// gets finder rings and module edges the binariser and the detector can place.
    pub fn doubled(plane: &Plane<'_>) -> Gray {
        let (w, h) = (plane.width, plane.height);
        let mut data = vec![0u8; 4 * w * h];
        // Each output pixel lies a quarter of a pixel from its nearest source pixel: weights
        // 3:1 towards it along each axis, 9:3:3:1 in all, summing to 16. Down the columns
        // first (`vertical`: 3·near + far), then along the row.
        let mut vertical = vec![0u16; w];
        for (y, out) in data.chunks_exact_mut(2 * w).enumerate() {
            let near = plane.row((y / 2).min(h - 1));
            let far = plane.row(if y % 2 == 0 {
                (y / 2).saturating_sub(1)
            } else {
                (y / 2 + 1).min(h - 1)
            });
            for ((v, &n), &f) in vertical.iter_mut().zip(near).zip(far) {
                *v = 3 * u16::from(n) + u16::from(f);
            }
            let blend = |centre: u16, side: u16| ((3 * centre + side + 8) >> 4) as u8;
            // Source pixel `x` gives output pixels 2x (blended with x - 1) and 2x + 1 (with
            // x + 1); the edges blend with themselves.
            out[0] = blend(vertical[0], vertical[0]);
            out[2 * w - 1] = blend(vertical[w - 1], vertical[w - 1]);
            if w > 1 {
                out[1] = blend(vertical[0], vertical[1]);
                out[2 * w - 2] = blend(vertical[w - 1], vertical[w - 2]);
                for (pair, three) in out[2..2 * w - 2]
                    .chunks_exact_mut(2)
                    .zip(vertical.windows(3))
                {
                    pair[0] = blend(three[1], three[0]);
                    pair[1] = blend(three[1], three[2]);
                }
            }
        }
        Gray {
            data,
            width: 2 * w,
            height: 2 * h,
        }
    }

    /// `plane` turned a quarter turn clockwise: its columns become rows, read bottom to top.
    pub fn turned(plane: &Plane<'_>) -> Gray {
        let (w, h) = (plane.width, plane.height);
        let mut data = vec![0u8; w * h];
        // Eight by eight pixels at a time, turned in registers: pixel by pixel, each write
        // lands on another cache line.
        let (w8, h8) = (w - w % 8, h - h % 8);
        for y0 in (0..h8).step_by(8) {
            for x0 in (0..w8).step_by(8) {
                let mut square = [0u64; 8];
                for (i, row) in square.iter_mut().enumerate() {
                    let pixels = &plane.row(y0 + i)[x0..x0 + 8];
                    *row = u64::from_le_bytes(pixels.try_into().unwrap_or_default());
                }
                transpose_eight(&mut square);
                // Column `j` holds rows y0..y0 + 8, which the turn puts right to left.
                for (j, column) in square.iter().enumerate() {
                    let at = (x0 + j) * h + h - 8 - y0;
                    data[at..at + 8].copy_from_slice(&column.swap_bytes().to_le_bytes());
                }
            }
        }
        // The strips right of and below the whole squares, pixel by pixel.
        for y in 0..h {
            let columns = if y < h8 { w8..w } else { 0..w };
            for (&p, x) in plane.row(y)[columns.clone()].iter().zip(columns) {
                data[x * h + (h - 1 - y)] = p;
            }
        }
        Gray {
            data,
            width: h,
            height: w,
        }
    }

    /// Averages `factor`×`factor` boxes of `plane` into one pixel each; the right and bottom
    /// remainders that do not fill a whole box are dropped. `factor` must be at least 2 and
    /// the plane at least `factor` pixels on each side.
    pub fn downscaled(plane: &Plane<'_>, factor: usize) -> Gray {
        let width = plane.width / factor;
        let height = plane.height / factor;
        let mut data = vec![0u8; width * height];
        if width == 0 {
            return Gray {
                data,
                width,
                height,
            };
        }
        if factor == 2 {
            // The common case (1080p to 540p): four output pixels from eight of each row at
            // a time, in one word; the last few pixel by pixel.
            for (y, out) in data.chunks_exact_mut(width).enumerate() {
                let (r0, r1) = (plane.row(2 * y), plane.row(2 * y + 1));
                let mut outs = out.chunks_exact_mut(4);
                let ins = r0.chunks_exact(8).zip(r1.chunks_exact(8));
                for (o, (a, b)) in outs.by_ref().zip(ins) {
                    let word = |p: &[u8]| u64::from_le_bytes(p.try_into().unwrap_or_default());
                    o.copy_from_slice(&average_fours(word(a), word(b)).to_le_bytes());
                }
                let done = width - outs.into_remainder().len();
                for x in done..width {
                    let s = u16::from(r0[2 * x])
                        + u16::from(r0[2 * x + 1])
                        + u16::from(r1[2 * x])
                        + u16::from(r1[2 * x + 1]);
                    out[x] = ((s + 2) >> 2) as u8;
                }
            }
        } else {
            let area = (factor * factor) as u32;
            let mut sums = vec![0u32; width];
            for (y, out) in data.chunks_exact_mut(width).enumerate() {
                sums.fill(0);
                for dy in 0..factor {
                    let row = &plane.row(y * factor + dy)[..width * factor];
                    for (x, &p) in row.iter().enumerate() {
                        sums[x / factor] += u32::from(p);
                    }
                }
                for (o, &s) in out.iter_mut().zip(&sums) {
                    *o = ((s + area / 2) / area) as u8;
                }
            }
        }
        Gray {
            data,
            width,
            height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_sizes_stride_and_buffer() {
        let buf = vec![0u8; 100];
        assert!(matches!(
            Plane::new(0, 10, 10, &buf),
            Err(ScanError::BadFrameSize { .. })
        ));
        assert!(matches!(
            Plane::new(10, 10, 9, &buf),
            Err(ScanError::BadStride { .. })
        ));
        assert!(matches!(
            Plane::new(10, 11, 10, &buf),
            Err(ScanError::BufferTooSmall { .. })
        ));
        assert!(matches!(
            Plane::new(MAX_SIDE + 1, 1, MAX_SIDE + 1, &buf),
            Err(ScanError::BadFrameSize { .. })
        ));
        assert!(matches!(
            Plane::new(u32::MAX, u32::MAX, u32::MAX, &buf),
            Err(ScanError::BadFrameSize { .. })
        ));
        // A short last row is fine.
        assert!(Plane::new(8, 10, 10, &buf[..98]).is_ok());
    }

    #[test]
    fn filters_smooth_and_sharpen_inside_the_border() {
        // A 4×3 image: a bright column at x = 2.
        let buf = [0, 0, 90, 0, 0, 0, 90, 0, 0, 0, 90, 0];
        let plane = Plane::new(4, 3, 4, &buf).expect("plane");
        let smooth = Gray::filtered(&plane, Filter::Smooth);
        // (90 × 3) / 9 = 30 at both inner pixels; the border is kept.
        assert_eq!(smooth.data[4..8], [0, 30, 30, 0]);
        assert_eq!(smooth.data[..4], buf[..4]);
        let sharp = Gray::filtered(&plane, Filter::Sharpen);
        // 2 × 0 - 30 clamps to 0; 2 × 90 - 30 = 150.
        assert_eq!(sharp.data[4..8], [0, 0, 150, 0]);
        assert_eq!(Gray::copied(&plane).data, buf);
    }

    #[test]
    fn downscaling_averages_boxes() {
        let buf: Vec<u8> = (0..16).map(|i| (i * 10) as u8).collect();
        let plane = Plane::new(4, 4, 4, &buf).expect("plane");
        let small = Gray::downscaled(&plane, 2);
        assert_eq!((small.width, small.height), (2, 2));
        // (0 + 10 + 40 + 50) / 4 = 25
        assert_eq!(small.data[0], 25);
        let plane = Plane::new(3, 3, 4, &buf).expect("plane");
        let small = Gray::downscaled(&plane, 3);
        // (0 + 10 + 20 + 40 + 50 + 60 + 80 + 90 + 100) / 9 = 50
        assert_eq!(small.data, [50]);
        // Halving: eight pixels of each row at a time, and the pixels past the last eight, on
        // noise (every sum and rounding) with a wider stride and an odd width.
        let (w, h, stride) = (45u32, 21u32, 48usize);
        let buf = crate::scan::test_noise(stride * h as usize, 3);
        let small = Gray::downscaled(&Plane::new(w, h, stride as u32, &buf).expect("plane"), 2);
        assert_eq!((small.width, small.height), (22, 10));
        for (y, x) in (0..10).flat_map(|y| (0..22).map(move |x| (y, x))) {
            let at = |dx, dy| u32::from(buf[(2 * y + dy) * stride + 2 * x + dx]);
            let sum = at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1);
            assert_eq!(
                u32::from(small.data[y * 22 + x]),
                (sum + 2) / 4,
                "({x}, {y})"
            );
        }
    }

    #[test]
    fn doubling_interpolates_between_pixel_centres() {
        // Two pixels, 0 and 160, in one row: four come out, a quarter and three quarters of
        // the way between the centres, and the ends hold their value.
        let buf = [0u8, 160];
        let plane = Plane::new(2, 1, 2, &buf).expect("plane");
        let big = Gray::doubled(&plane);
        assert_eq!((big.width, big.height), (4, 2));
        assert_eq!(big.data[..4], [0, 40, 120, 160]);
        assert_eq!(big.data[4..], big.data[..4]);
        let one = Gray::doubled(&Plane::new(1, 1, 1, &[77]).expect("plane"));
        assert_eq!(one.data, [77; 4]);
        // On noise, with a wider stride: each output pixel weighs its nearest source pixel 9,
        // the next ones along the row and down the column 3 each, the diagonal one 1.
        let (w, h, stride) = (13usize, 7usize, 16usize);
        let buf = crate::scan::test_noise(stride * h, 5);
        let plane = Plane::new(w as u32, h as u32, stride as u32, &buf).expect("plane");
        let big = Gray::doubled(&plane);
        let next = |i: usize, n: usize| {
            if i.is_multiple_of(2) {
                (i / 2).saturating_sub(1)
            } else {
                (i / 2 + 1).min(n - 1)
            }
        };
        for (y, x) in (0..2 * h).flat_map(|y| (0..2 * w).map(move |x| (y, x))) {
            let at = |x: usize, y: usize| u32::from(buf[y * stride + x]);
            let (xn, yn, xf, yf) = (x / 2, y / 2, next(x, w), next(y, h));
            let sum = 9 * at(xn, yn) + 3 * at(xf, yn) + 3 * at(xn, yf) + at(xf, yf);
            assert_eq!(
                u32::from(big.data[y * 2 * w + x]),
                (sum + 8) / 16,
                "({x}, {y})"
            );
        }
    }

    #[test]
    fn turning_makes_columns_rows() {
        // 1 2 3      4 1
        // 4 5 6  ->  5 2
        //            6 3
        let buf = [1u8, 2, 3, 4, 5, 6];
        let turned = Gray::turned(&Plane::new(3, 2, 3, &buf).expect("plane"));
        assert_eq!((turned.width, turned.height), (2, 3));
        assert_eq!(turned.data, [4, 1, 5, 2, 6, 3]);
        // A plane with a wider stride: the pixel at (x, y) becomes the pixel at (h - 1 - y, x).
        let (w, h, stride) = (37, 21, 40);
        let buf = crate::scan::test_noise(stride * h, 7);
        let turned =
            Gray::turned(&Plane::new(w as u32, h as u32, stride as u32, &buf).expect("plane"));
        assert_eq!((turned.width, turned.height), (h, w));
        for (y, x) in (0..h).flat_map(|y| (0..w).map(move |x| (y, x))) {
            assert_eq!(
                turned.data[x * h + (h - 1 - y)],
                buf[y * stride + x],
                "({x}, {y})"
            );
        }
    }
}

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
        let mut data = Vec::with_capacity(4 * w * h);
        // Each output pixel lies a quarter of a pixel from its nearest source pixel: weights
        // 3:1 towards it, along each axis.
        let blend = |near: u8, far: u8| 3 * u16::from(near) + u16::from(far);
        let mut line = vec![0u16; 2 * w];
        for y in 0..2 * h {
            let near = plane.row((y / 2).min(h - 1));
            let far = plane.row(if y % 2 == 0 {
                (y / 2).saturating_sub(1)
            } else {
                (y / 2 + 1).min(h - 1)
            });
            for (x, out) in line.iter_mut().enumerate() {
                let (xn, xf) = (
                    x / 2,
                    if x % 2 == 0 {
                        (x / 2).saturating_sub(1)
                    } else {
                        (x / 2 + 1).min(w - 1)
                    },
                );
                // Weights 9:3:3:1, summing to 16.
                *out = 3 * blend(near[xn], near[xf]) + blend(far[xn], far[xf]);
            }
            data.extend(line.iter().map(|&v| ((v + 8) >> 4) as u8));
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
        for y in 0..h {
            for (x, &p) in plane.row(y).iter().enumerate() {
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
            // The common case (1080p to 540p), written so the compiler vectorises it.
            for (y, out) in data.chunks_exact_mut(width).enumerate() {
                let (r0, r1) = (plane.row(2 * y), plane.row(2 * y + 1));
                for (x, o) in out.iter_mut().enumerate() {
                    let s = u16::from(r0[2 * x])
                        + u16::from(r0[2 * x + 1])
                        + u16::from(r1[2 * x])
                        + u16::from(r1[2 * x + 1]);
                    *o = ((s + 2) >> 2) as u8;
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

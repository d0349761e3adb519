//! Fixed-precision number formatting, byte-identical to `format!("{v:.prec$}")` but without the
//! formatting machinery in the common case.
//!
//! `{:.p}` prints the exact binary value rounded to `p` decimals. The fast path scales by `10^p`
//! (one rounding, relative error ≤ 2⁻⁵³) and rounds to an integer; it is taken only when the
//! scaled value is far enough from a rounding tie that the error cannot change the result.
//! Anything else (ties, huge or negative values, NaN) goes through `core::fmt`.

use std::fmt::Write;

const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

/// Appends `v` with `prec` decimals, exactly as `write!(out, "{v:.prec$}")` would.
pub(crate) fn push_fixed(out: &mut String, v: f64, prec: usize) {
    match fast_scaled(v, prec) {
        Some(n) => push_scaled(out, n, prec),
        None => {
            let _ = write!(out, "{v:.prec$}");
        }
    }
}

/// `v` with `prec` decimals as a new string (see [`push_fixed`]).
pub(crate) fn fixed(v: f64, prec: usize) -> String {
    let mut s = String::with_capacity(12);
    push_fixed(&mut s, v, prec);
    s
}

/// `round(v · 10^prec)` when that is certainly what `{:.prec}` prints, else `None`.
fn fast_scaled(v: f64, prec: usize) -> Option<u64> {
    if prec >= POW10.len() || v.is_nan() || v.is_sign_negative() {
        return None;
    }
    let s = v * POW10[prec];
    // Integers up to 2^52 are exact and leave room for the rounding margin below.
    if s >= 4_503_599_627_370_496.0 {
        return None;
    }
    let floor = s.floor();
    let frac = s - floor;
    // |s - exact| ≤ s·2⁻⁵³; stay well clear of the .5 tie so the direction cannot flip.
    let margin = s * 2.3e-16 + 1e-300;
    if (frac - 0.5).abs() <= margin {
        return None;
    }
    let n = floor as u64;
    Some(if frac > 0.5 { n + 1 } else { n })
}

/// Writes `n / 10^prec` with `prec` decimals at the end of `buf`; returns where the text starts.
fn write_scaled(buf: &mut [u8; 32], n: u64, prec: usize) -> usize {
    let mut i = buf.len();
    let mut n = n;
    for _ in 0..prec {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    if prec > 0 {
        i -= 1;
        buf[i] = b'.';
    }
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    i
}

fn push_scaled(out: &mut String, n: u64, prec: usize) {
    let mut buf = [0u8; 32];
    let at = write_scaled(&mut buf, n, prec);
    // ASCII digits and a point: pushed as chars, no UTF-8 validation needed.
    out.reserve(buf.len() - at);
    for &b in &buf[at..] {
        out.push(char::from(b));
    }
}

/// A stack buffer for the fast path, for serialisers that want a `&str` without allocating.
pub(crate) struct FixedBuf {
    buf: [u8; 32],
}

impl FixedBuf {
    pub(crate) fn new() -> Self {
        FixedBuf { buf: [0; 32] }
    }

    /// Like [`FixedBuf::format`], as ASCII bytes (digits and a point: nothing to escape).
    pub(crate) fn format_ascii(&mut self, v: f64, prec: usize) -> Option<&[u8]> {
        let n = fast_scaled(v, prec)?;
        let at = write_scaled(&mut self.buf, n, prec);
        Some(&self.buf[at..])
    }

    /// `v` with `prec` decimals, or `None` when only `core::fmt` can format it exactly.
    pub(crate) fn format(&mut self, v: f64, prec: usize) -> Option<&str> {
        let n = fast_scaled(v, prec)?;
        let at = write_scaled(&mut self.buf, n, prec);
        std::str::from_utf8(&self.buf[at..]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::fixed;

    fn check(v: f64) {
        for prec in 0..=6 {
            assert_eq!(fixed(v, prec), format!("{v:.prec$}"), "v={v:e} prec={prec}");
        }
    }

    #[test]
    fn matches_core_fmt() {
        for v in [
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.25,
            0.35,
            0.125,
            0.005,
            0.015,
            1e-7,
            0.999_999_9,
            9.995,
            99.95,
            100.0,
            123_456.789,
            4.5e15,
            1e300,
            -1.25,
            f64::NAN,
            f64::INFINITY,
            f64::MIN_POSITIVE,
            f64::EPSILON,
        ] {
            check(v);
        }
        // A deterministic sweep over magnitudes and fractional parts.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64;
            let exp = (x % 24) as i32 - 12;
            check(mantissa * 10f64.powi(exp));
            // Values on a decimal grid, where ties and near-ties live.
            let grid = (x % 2_000_000) as f64 / 1000.0 + 0.0005;
            check(grid);
            check((x % 100_000) as f64 / 100.0);
        }
        let mut b = super::FixedBuf::new();
        assert_eq!(b.format(40.0, 1), Some("40.0"));
        assert_eq!(b.format(0.0, 0), Some("0"));
        assert_eq!(b.format(f64::NAN, 1), None);
    }
}

//! Prometheus' `histogram_quantile`, applied to buckets merged across series.

/// The `q` quantile of cumulative buckets `(upper bound, cumulative rate)`, in any order.
/// Linear interpolation inside the bucket; a quantile in the `+Inf` bucket is the highest finite
/// bound. `None` without observations.
pub(crate) fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || buckets.is_empty() {
        return None;
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, v)| !le.is_nan() && v.is_finite())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (last_le, total) = *b.last()?;
    if last_le != f64::INFINITY || total <= 0.0 {
        return None;
    }
    // Cumulative counts must not decrease; rounding can make them do so slightly.
    for i in 1..b.len() {
        if b[i].1 < b[i - 1].1 {
            b[i].1 = b[i - 1].1;
        }
    }
    let rank = q * total;
    let idx = b.iter().position(|&(_, c)| c >= rank)?;
    if idx == b.len() - 1 {
        return if b.len() >= 2 {
            Some(b[b.len() - 2].0)
        } else {
            None
        };
    }
    let (upper, count) = b[idx];
    let (lower, prev) = if idx == 0 {
        (if upper > 0.0 { 0.0 } else { upper }, 0.0)
    } else {
        b[idx - 1]
    };
    if idx == 0 && upper <= 0.0 {
        return Some(upper);
    }
    let in_bucket = count - prev;
    if in_bucket <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * ((rank - prev) / in_bucket))
}

#[cfg(test)]
mod tests {
    use super::histogram_quantile;

    #[test]
    fn interpolates_like_prometheus() {
        let b = [
            (10.0, 50.0),
            (25.0, 90.0),
            (50.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        // rank 50 → exactly the first bucket's bound
        assert_eq!(histogram_quantile(0.5, &b), Some(10.0));
        // rank 95 → in (25, 50]: 25 + 25 * (95-90)/10 = 37.5
        assert_eq!(histogram_quantile(0.95, &b), Some(37.5));
        assert_eq!(histogram_quantile(0.5, &[]), None);
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn inf_bucket_returns_highest_finite_bound() {
        let b = [(10.0, 1.0), (f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.99, &b), Some(10.0));
    }
}

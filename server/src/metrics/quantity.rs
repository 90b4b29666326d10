//! Kubernetes resource quantities (`100m`, `128Mi`, `1.5`, `2G`, `1e3`) as numbers. Pure.

/// The value of a quantity in its base unit (cores, bytes), or `None` when it does not parse.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split =
        q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    let value = number * factor;
    value.is_finite().then_some(value)
}

/// CPU in millicores, rounded.
pub fn millicores(q: &str) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)] // Rounded, and far below i64::MAX for any real request.
    parse(q).map(|cores| (cores * 1000.0).round() as i64)
}

/// Memory in bytes, rounded.
pub fn bytes(q: &str) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    parse(q).map(|b| b.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(millicores("100m"), Some(100));
        assert_eq!(millicores("1.5"), Some(1500));
        assert_eq!(millicores("2"), Some(2000));
        assert_eq!(millicores("250000u"), Some(250));
        assert_eq!(bytes("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("0.5Gi"), Some(512 * 1024 * 1024));
        for bad in ["", "Mi", "12x", "1..2", "abc"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

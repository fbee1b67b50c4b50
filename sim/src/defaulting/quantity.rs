//! Enough of apimachinery's `resource.Quantity` to compare quantities: the value in
//! thousandths, rounded up as `SetDefaults_ResourceList` rounds (to milli scale).

use serde_json::Value;

/// A quantity (string or JSON number) in thousandths of its unit, rounded up; `None` when it
/// is not a quantity. Values too large for the arithmetic saturate.
pub fn milli_value(value: &Value) -> Option<i128> {
    match value {
        Value::String(text) => parse_milli(text),
        Value::Number(number) => parse_milli(&number.to_string()),
        _ => None,
    }
}

fn parse_milli(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let (binary_power, decimal_power) = suffix_powers(suffix)?;
    let mut mantissa: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .saturating_mul(10)
            .saturating_add(i128::from(digit - b'0'));
    }
    let fraction_digits = i32::try_from(fraction.len()).ok()?;
    // thousandths: value × 10^3
    let exponent = decimal_power + 3 - fraction_digits;
    let mut value = mantissa.saturating_mul(1i128.checked_shl(binary_power)?);
    if exponent >= 0 {
        for _ in 0..exponent {
            value = value.saturating_mul(10);
        }
    } else {
        for _ in 0..(-exponent) {
            let rounded_up = value % 10 != 0;
            value = value / 10 + i128::from(rounded_up);
        }
    }
    Some(if negative { -value } else { value })
}

/// (power of two, power of ten) a suffix stands for.
fn suffix_powers(suffix: &str) -> Option<(u32, i32)> {
    Some(match suffix {
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "" => (0, 0),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        exponent => {
            let digits = exponent
                .strip_prefix('e')
                .or_else(|| exponent.strip_prefix('E'))?;
            let power: i32 = digits.parse().ok().filter(|p: &i32| p.abs() <= 30)?;
            (0, power)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_in_every_notation() {
        assert_eq!(milli_value(&json!("1")), Some(1000));
        assert_eq!(milli_value(&json!("100m")), Some(100));
        assert_eq!(milli_value(&json!("0.5")), Some(500));
        assert_eq!(milli_value(&json!("1Ki")), Some(1_024_000));
        assert_eq!(milli_value(&json!("1k")), Some(1_000_000));
        assert_eq!(milli_value(&json!("1e3")), Some(1_000_000));
        assert_eq!(milli_value(&json!("1n")), Some(1), "rounded up to milli");
        assert_eq!(milli_value(&json!(2)), Some(2000));
        assert_eq!(milli_value(&json!("-1")), Some(-1000));
        assert_eq!(milli_value(&json!("1Gi")), milli_value(&json!("1024Mi")));
        assert_eq!(milli_value(&json!("abc")), None);
        assert_eq!(milli_value(&json!("1Zi")), None);
    }
}

//! Reading a price like `190.00 EUR`, `1,095.50 EUR` or `999,00 €`.

/// An amount in the listing's currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub amount: f64,
    /// ISO code or symbol as shown (`EUR`, `€`); empty if none.
    pub currency: String,
}

impl Price {
    /// Parse the text of a price heading. `None` if there is no number in it.
    pub fn parse(text: &str) -> Option<Price> {
        let text = text.trim();
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let end = text.rfind(|c: char| c.is_ascii_digit())? + 1;
        let number = &text[start..end];
        let currency = format!("{} {}", &text[..start], &text[end..])
            .split_whitespace()
            .filter(|w| !w.eq_ignore_ascii_case("from"))
            .collect::<Vec<_>>()
            .join(" ");
        Some(Price {
            amount: parse_number(number)?,
            currency,
        })
    }
}

/// `1,095.50` and `1.095,50` and `190` and `999,00` all read as expected: the
/// last separator followed by exactly one or two digits is the decimal point,
/// every other separator groups thousands.
fn parse_number(s: &str) -> Option<f64> {
    let last_sep = s.rfind(['.', ',']);
    let (int_part, frac_part) = match last_sep {
        Some(i) if (1..=2).contains(&(s.len() - i - 1)) => (&s[..i], &s[i + 1..]),
        _ => (s, ""),
    };
    let digits: String = int_part.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty()
        || int_part
            .chars()
            .any(|c| !(c.is_ascii_digit() || c == '.' || c == ',' || c == ' ' || c == '\u{a0}'))
    {
        return None;
    }
    let joined = if frac_part.is_empty() {
        digits
    } else {
        format!("{digits}.{frac_part}")
    };
    joined.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_common_shapes() {
        let p = Price::parse("190.00 EUR").unwrap();
        assert_eq!((p.amount, p.currency.as_str()), (190.0, "EUR"));
        assert_eq!(Price::parse("1,095.50 EUR").unwrap().amount, 1095.5);
        assert_eq!(Price::parse("1.095,50 €").unwrap().amount, 1095.5);
        assert_eq!(Price::parse("999,00 EUR").unwrap().amount, 999.0);
        assert_eq!(Price::parse("€ 12").unwrap().currency, "€");
        assert_eq!(Price::parse("from 99,00 EUR").unwrap().currency, "EUR");
        assert_eq!(Price::parse("1.000 EUR").unwrap().amount, 1000.0);
    }

    #[test]
    fn no_number_is_none() {
        assert_eq!(Price::parse("free"), None);
        assert_eq!(Price::parse(""), None);
    }
}

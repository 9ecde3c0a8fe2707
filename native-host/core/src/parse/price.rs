//! Reading a price as pretix writes it in each language: `190.00 EUR`,
//! `1,095.50 EUR`, `90,00 €` (German), `90,00 €` with a narrow no-break space
//! (French), `€ 90,00` (Dutch), `CHF 1'234.50` (Swiss).

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
            .any(|c| !(c.is_ascii_digit() || c == '.' || c == ',' || is_group_separator(c)))
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

/// Spaces and apostrophes that group thousands: plain, no-break (U+00A0),
/// narrow no-break (U+202F, French), thin (U+2009), `'` and `’` (Swiss).
fn is_group_separator(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '’')
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
    fn reads_every_locale_pretix_writes() {
        let cases = [
            ("90,00 €", 90.0, "€"),
            ("90,00\u{202f}€", 90.0, "€"),
            ("€ 90,00", 90.0, "€"),
            ("€\u{a0}1.234,50", 1234.5, "€"),
            ("1.234,50 €", 1234.5, "€"),
            ("1\u{202f}234,50\u{a0}€", 1234.5, "€"),
            ("1\u{2009}234,50 €", 1234.5, "€"),
            ("190.00 EUR", 190.0, "EUR"),
            ("CHF 1'234.50", 1234.5, "CHF"),
            ("CHF 1’234.50", 1234.5, "CHF"),
            ("1 234,50 zł", 1234.5, "zł"),
        ];
        for (text, amount, currency) in cases {
            let p = Price::parse(text).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(
                (p.amount, p.currency.as_str()),
                (amount, currency),
                "{text:?}"
            );
        }
    }

    #[test]
    fn letters_inside_the_number_are_refused() {
        assert_eq!(Price::parse("1x234,50 €"), None);
        assert_eq!(Price::parse("1;234 €"), None);
    }

    #[test]
    fn no_number_is_none() {
        assert_eq!(Price::parse("free"), None);
        assert_eq!(Price::parse(""), None);
    }
}

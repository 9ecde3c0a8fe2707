//! Which listings to buy: the user's `--max-price` and `--ticket-type`.
//!
//! The `--item` and `--sort` filters are applied by the shop (as query
//! parameters); these two are ours, because the marketplace has no such
//! filter. A listing whose price cannot be read is skipped when a maximum is
//! set: buying something of unknown price is not what the user asked for.

use pretix_race_shared::Filters;

use crate::parse::Listing;

/// Why a listing is not for us.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// Its price is above `--max-price`.
    TooExpensive { max: f64 },
    /// `--max-price` is set and its price could not be read.
    PriceUnknown { max: f64 },
    /// Its ticket type does not contain `--ticket-type`.
    OtherType { want: String },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::TooExpensive { max } => write!(f, "above --max-price {max}"),
            Skip::PriceUnknown { max } => {
                write!(f, "price unreadable, and --max-price {max} is set")
            }
            Skip::OtherType { want } => write!(f, "not a --ticket-type {want:?}"),
        }
    }
}

/// Does the user want this listing?
pub fn wanted(listing: &Listing, filters: &Filters) -> bool {
    skip_reason(listing, filters).is_none()
}

/// Why the user's filters reject this listing, or `None` if they want it.
pub fn skip_reason(listing: &Listing, filters: &Filters) -> Option<Skip> {
    if let Some(max) = filters.max_price {
        match &listing.price {
            Some(p) if p.amount <= max + 1e-9 => {}
            Some(_) => return Some(Skip::TooExpensive { max }),
            None => return Some(Skip::PriceUnknown { max }),
        }
    }
    if let Some(want) = &filters.ticket_type {
        if !listing
            .ticket_type
            .to_lowercase()
            .contains(&want.trim().to_lowercase())
        {
            return Some(Skip::OtherType { want: want.clone() });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Price;

    fn listing(t: &str, price: Option<f64>) -> Listing {
        Listing {
            ticket_type: t.into(),
            price_text: String::new(),
            price: price.map(|amount| Price {
                amount,
                currency: "EUR".into(),
            }),
            form_action: String::new(),
            csrf_token: String::new(),
        }
    }

    fn max(m: f64) -> Filters {
        Filters {
            max_price: Some(m),
            ..Filters::default()
        }
    }

    fn ticket_type(t: &str) -> Filters {
        Filters {
            ticket_type: Some(t.into()),
            ..Filters::default()
        }
    }

    #[test]
    fn no_filters_take_everything_even_without_a_price() {
        let none = Filters::default();
        assert!(wanted(&listing("Ticket – Type A", None), &none));
        assert!(wanted(&listing("", Some(1e9)), &none));
    }

    #[test]
    fn max_price_is_inclusive_and_exact() {
        // At the maximum is wanted; a cent above is not; below is.
        assert!(wanted(&listing("x", Some(200.0)), &max(200.0)));
        assert!(wanted(&listing("x", Some(199.99)), &max(200.0)));
        assert!(!wanted(&listing("x", Some(200.01)), &max(200.0)));
        // The tolerance only absorbs float noise from adding up cents, e.g.
        // 0.1 + 0.2 is 0.30000000000000004 and must still be "at most 0.3".
        assert!(wanted(&listing("x", Some(0.1 + 0.2)), &max(0.3)));
        assert!(!wanted(&listing("x", Some(0.31)), &max(0.3)));
        // The tolerance is absolute, not scaled by the maximum.
        assert!(!wanted(&listing("x", Some(0.001)), &max(0.0)));
        assert!(wanted(&listing("x", Some(0.0)), &max(0.0)));
    }

    #[test]
    fn unknown_price_is_not_under_the_maximum() {
        assert!(!wanted(&listing("x", None), &max(200.0)));
        assert!(!wanted(&listing("x", None), &max(f64::MAX)));
    }

    #[test]
    fn ticket_type_is_a_case_insensitive_substring_ignoring_outer_spaces() {
        let ty = ticket_type("type b");
        assert!(wanted(&listing("Ticket – Type B", Some(1.0)), &ty));
        assert!(wanted(&listing("TYPE B", None), &ty));
        assert!(!wanted(&listing("Ticket – Type A", Some(1.0)), &ty));
        assert!(wanted(
            &listing("Ticket – Type B", None),
            &ticket_type("  Type B\t")
        ));
        assert!(
            !wanted(&listing("Type", None), &ty),
            "needle longer than hay"
        );
        // Non-ASCII case folding: the shop writes umlauts in either case.
        assert!(wanted(
            &listing("ÜBERNACHTUNG", None),
            &ticket_type("übernachtung")
        ));
    }

    #[test]
    fn both_filters_must_agree() {
        let both = Filters {
            max_price: Some(50.0),
            ticket_type: Some("vip".into()),
            ..Filters::default()
        };
        assert!(wanted(&listing("VIP", Some(50.0)), &both));
        assert!(!wanted(&listing("VIP", Some(50.5)), &both), "too dear");
        assert!(
            !wanted(&listing("Standard", Some(10.0)), &both),
            "wrong type"
        );
        assert!(!wanted(&listing("VIP", None), &both), "price unknown");
    }

    #[test]
    fn shop_side_filters_do_not_reject_here() {
        // `item` and `sort` are the shop's to apply: a listing that got
        // through is not second-guessed by them.
        let shop = Filters {
            item: Some("965".into()),
            sort: Some(pretix_race_shared::SortOrder::PriceDesc),
            ..Filters::default()
        };
        assert!(wanted(&listing("anything", None), &shop));
    }

    #[test]
    fn skip_reasons_say_which_filter() {
        let f = Filters {
            max_price: Some(100.0),
            ticket_type: Some("Type B".into()),
            ..Filters::default()
        };
        assert_eq!(
            skip_reason(&listing("Type B", Some(150.0)), &f),
            Some(Skip::TooExpensive { max: 100.0 })
        );
        assert_eq!(
            skip_reason(&listing("Type B", None), &f),
            Some(Skip::PriceUnknown { max: 100.0 })
        );
        assert_eq!(
            skip_reason(&listing("Type A", Some(90.0)), &f),
            Some(Skip::OtherType {
                want: "Type B".into()
            })
        );
        assert_eq!(skip_reason(&listing("Type B", Some(90.0)), &f), None);
        assert_eq!(
            Skip::TooExpensive { max: 100.0 }.to_string(),
            "above --max-price 100"
        );
        assert_eq!(
            Skip::PriceUnknown { max: 5.5 }.to_string(),
            "price unreadable, and --max-price 5.5 is set"
        );
        assert_eq!(
            Skip::OtherType { want: "B".into() }.to_string(),
            "not a --ticket-type \"B\""
        );
    }
}

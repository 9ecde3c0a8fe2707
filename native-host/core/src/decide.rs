//! Which listings to buy: the user's `--max-price` and `--ticket-type`.
//!
//! The `--item` and `--sort` filters are applied by the shop (as query
//! parameters); these two are ours, because the marketplace has no such
//! filter. A listing whose price cannot be read is skipped when a maximum is
//! set: buying something of unknown price is not what the user asked for.

use pretix_race_shared::Filters;

use crate::parse::Listing;

/// Does the user want this listing?
pub fn wanted(listing: &Listing, filters: &Filters) -> bool {
    if let Some(max) = filters.max_price {
        match &listing.price {
            Some(p) if p.amount <= max + 1e-9 => {}
            _ => return false,
        }
    }
    if let Some(want) = &filters.ticket_type {
        if !listing
            .ticket_type
            .to_lowercase()
            .contains(&want.trim().to_lowercase())
        {
            return false;
        }
    }
    true
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

    #[test]
    fn filters() {
        let none = Filters::default();
        assert!(wanted(&listing("Ticket – Type A", None), &none));
        let max = Filters {
            max_price: Some(200.0),
            ..Filters::default()
        };
        assert!(wanted(&listing("x", Some(200.0)), &max));
        assert!(!wanted(&listing("x", Some(200.01)), &max));
        assert!(
            !wanted(&listing("x", None), &max),
            "unknown price is not under the maximum"
        );
        let ty = Filters {
            ticket_type: Some("type b".into()),
            ..Filters::default()
        };
        assert!(wanted(&listing("Ticket – Type B", Some(1.0)), &ty));
        assert!(!wanted(&listing("Ticket – Type A", Some(1.0)), &ty));
    }
}

//! The marketplace's memory: sessions, carts, which listings have appeared
//! and who bought them. Plain data behind one mutex in [`super::app`], with
//! no HTTP in sight, so the rules are easy to read and to unit-test.
//!
//! Everything that decides a race happens while that mutex is held, so two
//! buyers of one listing are strictly ordered: exactly one wins, the other
//! sees the listing sold — the same guarantee pretix's database gives.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::cookies;
use super::csrf;
use super::scenario::Scenario;
use super::Sale;

/// What the server remembers about one browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The CSRF secret issued together with this session. The csrftoken
    /// cookie must carry exactly this value (see `csrf::check_token`).
    pub csrf_secret: String,
    /// Reserved tickets.
    pub cart: Vec<CartLine>,
}

/// How a request's session cookie relates to the server's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// A live session.
    Known,
    /// A session the scenario's reset threw away ("session expired").
    Forgotten,
    /// No cookie, or one this server never issued.
    Absent,
}

/// The session a page is served to, and whether it was just created (in
/// which case the response must set the cookies).
#[derive(Debug, Clone)]
pub struct Visit {
    pub key: String,
    pub csrf_secret: String,
    pub new: bool,
}

#[derive(Debug, Clone, Default)]
struct ListingState {
    /// Order of first appearance (for `sort=newest|oldest`).
    appeared: Option<u64>,
    sold_to: Option<String>,
}

/// Whose is a sold listing when no session bought it.
pub const COMPETITOR: &str = "competitor";

#[derive(Debug)]
pub struct Market {
    sessions: HashMap<String, Session>,
    forgotten: HashSet<String>,
    /// Parallel to `Scenario::listings`.
    listings: Vec<ListingState>,
    next_appearance: u64,
    /// Event-page GETs served so far (all sessions).
    pub event_gets: u64,
    /// Marketplace GETs so far (all sessions, including scripted answers).
    pub marketplace_gets: u64,
    /// Buy POSTs that passed the checks and named an available listing.
    pub buy_posts: u64,
    /// Every sale, in order.
    pub sales: Vec<Sale>,
    csrf_rejection_pending: bool,
}

impl Market {
    pub fn new(scenario: &Scenario) -> Self {
        Market {
            sessions: HashMap::new(),
            forgotten: HashSet::new(),
            listings: vec![ListingState::default(); scenario.listings.len()],
            next_appearance: 0,
            event_gets: 0,
            marketplace_gets: 0,
            buy_posts: 0,
            sales: Vec::new(),
            csrf_rejection_pending: scenario.reject_first_buy_csrf,
        }
    }

    pub fn session_state(&self, key: Option<&str>) -> SessionState {
        match key {
            Some(k) if self.sessions.contains_key(k) => SessionState::Known,
            Some(k) if self.forgotten.contains(k) => SessionState::Forgotten,
            _ => SessionState::Absent,
        }
    }

    pub fn session(&self, key: Option<&str>) -> Option<&Session> {
        self.sessions.get(key?)
    }

    pub fn session_mut(&mut self, key: Option<&str>) -> Option<&mut Session> {
        self.sessions.get_mut(key?)
    }

    /// The request's session, or a new one if it has none we know (like
    /// Django, an unknown session key silently starts a fresh session).
    pub fn visit(&mut self, key: Option<&str>) -> Visit {
        if let Some((key, session)) = key.and_then(|k| self.sessions.get_key_value(k)) {
            return Visit {
                key: key.clone(),
                csrf_secret: session.csrf_secret.clone(),
                new: false,
            };
        }
        let key = cookies::new_session_key();
        let csrf_secret = csrf::new_secret();
        self.sessions.insert(
            key.clone(),
            Session {
                csrf_secret: csrf_secret.clone(),
                cart: Vec::new(),
            },
        );
        Visit {
            key,
            csrf_secret,
            new: true,
        }
    }

    /// Throws every session away (scenario `session_reset_at_poll`).
    pub fn forget_all_sessions(&mut self) {
        self.forgotten.extend(self.sessions.drain().map(|(k, _)| k));
    }

    /// Gives the session a new CSRF secret and returns it.
    pub fn rotate_csrf(&mut self, key: Option<&str>) -> Option<String> {
        let session = self.session_mut(key)?;
        session.csrf_secret = csrf::new_secret();
        Some(session.csrf_secret.clone())
    }

    /// True exactly once if the scenario wants the first valid buy refused.
    pub fn take_csrf_rejection(&mut self) -> bool {
        std::mem::take(&mut self.csrf_rejection_pending)
    }

    /// Has listing `i` appeared by now? Remembers the first time it did.
    fn appeared(&mut self, scenario: &Scenario, i: usize, served: u64, elapsed: Duration) -> bool {
        if self.listings[i].appeared.is_some() {
            return true;
        }
        if !scenario.listings[i].appears.fired(served, elapsed) {
            return false;
        }
        self.listings[i].appeared = Some(self.next_appearance);
        self.next_appearance += 1;
        true
    }

    /// Indices of the listings a page rendered now shows: appeared, not
    /// sold, matching the `item` filter (if any), in `sort` order (scenario
    /// order if none or unknown).
    pub fn shown(
        &mut self,
        scenario: &Scenario,
        served: u64,
        elapsed: Duration,
        item: Option<&str>,
        sort: Option<&str>,
    ) -> Vec<usize> {
        let appeared: Vec<usize> = (0..scenario.listings.len())
            .filter(|&i| self.appeared(scenario, i, served, elapsed))
            .collect();
        let mut shown: Vec<usize> = appeared
            .into_iter()
            .filter(|&i| self.listings[i].sold_to.is_none())
            .filter(|&i| item.is_none_or(|it| it.is_empty() || scenario.listings[i].item == it))
            .collect();
        // Unparsable prices sort last either way.
        let price = |i: usize| parse_cents(&scenario.listings[i].price);
        let seq = |i: usize| self.listings[i].appeared.unwrap_or(u64::MAX);
        match sort {
            Some("price_asc") => shown.sort_by_key(|&i| (price(i).unwrap_or(i64::MAX), i)),
            Some("price_desc") => {
                shown.sort_by_key(|&i| (std::cmp::Reverse(price(i).unwrap_or(-1)), i))
            }
            Some("newest") => shown.sort_by_key(|&i| std::cmp::Reverse((seq(i), i))),
            Some("oldest") => shown.sort_by_key(|&i| (seq(i), i)),
            _ => {}
        }
        shown
    }

    /// The index of an appeared listing with this id.
    pub fn find(
        &mut self,
        scenario: &Scenario,
        id: &str,
        served: u64,
        elapsed: Duration,
    ) -> Option<usize> {
        let i = scenario.listings.iter().position(|l| l.id == id)?;
        self.appeared(scenario, i, served, elapsed).then_some(i)
    }

    pub fn is_sold(&self, i: usize) -> bool {
        self.listings[i].sold_to.is_some()
    }

    /// Records the sale of listing `i` to `buyer` (a session key or
    /// [`COMPETITOR`]). The caller has checked that it was not sold.
    pub fn sell(&mut self, scenario: &Scenario, i: usize, buyer: &str) {
        self.listings[i].sold_to = Some(buyer.to_owned());
        self.sales.push(Sale {
            listing_id: scenario.listings[i].id.clone(),
            session: buyer.to_owned(),
        });
    }
}

/// One reserved ticket in a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub listing_id: String,
    pub ticket_type: String,
    pub price: String,
    pub currency: String,
    pub item: String,
    pub expires: SystemTime,
}

/// `190.00` → 19000. `None` for anything that isn't a plain decimal.
pub fn parse_cents(price: &str) -> Option<i64> {
    let (whole, frac) = price.trim().split_once('.').unwrap_or((price.trim(), ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ScriptedListing, Trigger};

    fn scenario() -> Scenario {
        Scenario {
            listings: vec![
                ScriptedListing::new("a000000000000000", "A", "190.00"),
                ScriptedListing {
                    appears: Trigger::AfterPolls(1),
                    item: "966".into(),
                    ..ScriptedListing::new("b000000000000000", "B", "50.00")
                },
                ScriptedListing::new("c000000000000000", "C", "220.00"),
            ],
            ..Scenario::new("o", "e")
        }
    }

    #[test]
    fn listings_appear_filter_and_sort() {
        let sc = scenario();
        let mut m = Market::new(&sc);
        let z = Duration::ZERO;
        assert_eq!(m.shown(&sc, 0, z, None, None), vec![0, 2]);
        assert_eq!(m.shown(&sc, 1, z, None, None), vec![0, 1, 2]);
        assert_eq!(m.shown(&sc, 1, z, None, Some("price_asc")), vec![1, 0, 2]);
        assert_eq!(m.shown(&sc, 1, z, None, Some("price_desc")), vec![2, 0, 1]);
        // B appeared last, so it is the newest.
        assert_eq!(m.shown(&sc, 1, z, None, Some("newest")), vec![1, 2, 0]);
        assert_eq!(m.shown(&sc, 1, z, None, Some("oldest")), vec![0, 2, 1]);
        assert_eq!(m.shown(&sc, 1, z, Some("966"), None), vec![1]);
        assert_eq!(m.shown(&sc, 1, z, Some(""), Some("bogus")), vec![0, 1, 2]);
        m.sell(&sc, 0, COMPETITOR);
        assert_eq!(m.shown(&sc, 1, z, None, None), vec![1, 2]);
        assert_eq!(m.sales[0].session, COMPETITOR);
    }

    #[test]
    fn find_only_returns_appeared_listings() {
        let sc = scenario();
        let mut m = Market::new(&sc);
        assert_eq!(m.find(&sc, "b000000000000000", 0, Duration::ZERO), None);
        assert_eq!(m.find(&sc, "b000000000000000", 1, Duration::ZERO), Some(1));
        assert_eq!(m.find(&sc, "nope", 9, Duration::ZERO), None);
    }

    #[test]
    fn sessions_are_created_forgotten_and_rotated() {
        let sc = scenario();
        let mut m = Market::new(&sc);
        let v = m.visit(None);
        assert!(v.new);
        let again = m.visit(Some(&v.key));
        assert!(!again.new);
        assert_eq!(again.csrf_secret, v.csrf_secret);
        assert_eq!(m.session_state(Some("never-issued")), SessionState::Absent);
        let rotated = m.rotate_csrf(Some(&v.key)).unwrap();
        assert_ne!(rotated, v.csrf_secret);
        m.forget_all_sessions();
        assert_eq!(m.session_state(Some(&v.key)), SessionState::Forgotten);
        assert!(m.visit(Some(&v.key)).new);
    }
}

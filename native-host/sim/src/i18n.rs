//! The languages the simulated shop speaks.
//!
//! A pretix event may offer a single language, and a client that only knows
//! the English wording of the captured pages then cannot tell a won cart from
//! a lost one. So each [`Scenario`](crate::Scenario) picks a [`Lang`], and
//! every page is rendered in it: the strings pretix core renders use pretix's
//! own translations (its `locale/*/LC_MESSAGES/django.po` and `djangojs.po`),
//! the marketplace plugin's strings (the plugin is not public) are worded
//! freely, on purpose differently from the English page, and the money is
//! written the way each locale writes it.
//!
//! Dutch is here as the language the client has no words for at all: if a
//! Dutch shop is won, lost and verified, the client reads structure.
//!
//! Templates hold `{{t_<key>}}` placeholders; [`Lang::vars`] supplies them.

/// A shop language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English as the captured shop serves it (`en-de`: English words,
    /// German money format in the checkout).
    #[default]
    En,
    /// German (pretix's formal "Sie" translation).
    De,
    /// French.
    Fr,
    /// Dutch.
    Nl,
}

impl Lang {
    /// Every language, for tests that run the same story in each.
    pub const ALL: [Lang; 4] = [Lang::En, Lang::De, Lang::Fr, Lang::Nl];

    /// The `<html lang>` value.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::En => "en-de",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Nl => "nl",
        }
    }

    /// The `<body data-locale>` value and the language switcher's code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Nl => "nl",
        }
    }

    /// The translated string for `key` (a `t_…` placeholder name).
    pub fn text(self, key: &str) -> &'static str {
        let table = match self {
            Lang::En => EN,
            Lang::De => DE,
            Lang::Fr => FR,
            Lang::Nl => NL,
        };
        table
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_default()
    }

    /// Every `t_…` placeholder with its value in this language.
    pub fn vars(self) -> Vec<(&'static str, &'static str)> {
        EN.iter().map(|(k, _)| (*k, self.text(k))).collect()
    }

    /// A listing's price on the marketplace page. The English page shows the
    /// plugin's `190.00 EUR`; the others show the locale's money format.
    pub fn listing_money(self, cents: i64, currency: &str) -> String {
        match self {
            Lang::En => format!("{}.{:02} {currency}", cents / 100, cents % 100),
            _ => self.money(cents, currency),
        }
    }

    /// Money as pretix formats it in this locale: `1.234,50 €` (English on
    /// the `en-de` shop and German), `1 234,50 €` with narrow no-break spaces
    /// (French), `€ 1.234,50` (Dutch). Currencies without a symbol keep
    /// their code.
    pub fn money(self, cents: i64, currency: &str) -> String {
        let symbol = if currency == "EUR" { "€" } else { currency };
        let whole = cents / 100;
        let frac = cents % 100;
        match self {
            Lang::En | Lang::De => format!("{},{frac:02} {symbol}", group(whole, ".")),
            Lang::Fr => format!("{},{frac:02}\u{202f}{symbol}", group(whole, "\u{202f}")),
            Lang::Nl => format!("{symbol} {},{frac:02}", group(whole, ".")),
        }
    }
}

/// `1234567` with separator `.` → `1.234.567`.
fn group(n: i64, sep: &str) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

type Table = &'static [(&'static str, &'static str)];

/// English: the captured pages' wording.
const EN: Table = &[
    // pretix core: page shell
    ("t_skip", "Skip to main content"),
    ("t_contact", "Contact"),
    ("t_homepage", "Homepage"),
    ("t_error", "Error:"),
    // pretix core: event front page
    ("t_sold_out", "There are no more tickets - we are completely sold out."),
    ("t_products", "Products"),
    ("t_tickets", "Tickets"),
    ("t_unavailable", "UNAVAILABLE"),
    ("t_from", "from"),
    ("t_already_ordered", "If you have already ordered a ticket"),
    ("t_click_link", "Click on the link in one of the emails we sent you."),
    // pretix core: cart and checkout
    ("t_your_cart", "Your cart"),
    ("t_total", "Total"),
    ("t_one_product", "One product"),
    ("t_products_n", "{n} products"),
    ("t_reserved", "The items in your cart are reserved for you for {n} minutes."),
    ("t_checkout", "Checkout"),
    ("t_checkout_steps", "Checkout steps"),
    ("t_current", "Current:"),
    ("t_step_title", "Step 1 of 3: Your information"),
    ("t_step_info", "Your information"),
    ("t_step_payment", "Payment"),
    ("t_step_review", "Review order"),
    ("t_step_done", "Order confirmed"),
    ("t_questions_intro", "Before we continue, we need you to answer some questions."),
    ("t_contact_information", "Contact information"),
    ("t_email", "Email"),
    ("t_required", "required"),
    ("t_cancel", "Cancel"),
    ("t_continue", "Continue"),
    // Django: CSRF failure page
    ("t_forbidden", "Forbidden"),
    ("t_csrf_failed", "CSRF verification failed. Request aborted."),
    ("t_csrf_reason", "Reason given for failure:"),
    // the marketplace plugin (not public: wording is ours)
    ("t_marketplace", "Ticket Marketplace"),
    ("t_marketplace_button", "Marketplace"),
    ("t_sell_yours", "Can't attend? Sell your ticket to someone else!"),
    ("t_browse", "Browse Tickets"),
    ("t_how", "How it works"),
    ("t_welcome", "Welcome to the ticket marketplace! Here you can purchase tickets from other attendees who can no longer attend the event."),
    ("t_how_buy", "Click \"Buy\" to reserve the ticket and proceed to checkout."),
    ("t_how_pay", "Complete your payment immediately to finalize the purchase."),
    ("t_important", "Important: Very short payment window!"),
    ("t_important_text", "You must complete payment within 30 minutes after completing the order. Payment is only possible by credit card."),
    ("t_how_mail", "You'll receive your ticket confirmation by email."),
    ("t_how_fair", "We will deactivate the marketplace if we observe irresponsible scraping and botting. Please don’t ruin a good thing."),
    ("t_how_sell", "You have a ticket and want to sell it? Click the link to your order details in your order confirmation email and follow the process there."),
    ("t_all_tickets", "All tickets"),
    ("t_sort_price_asc", "Price (Low to High)"),
    ("t_sort_price_desc", "Price (High to Low)"),
    ("t_sort_newest", "Newest First"),
    ("t_sort_oldest", "Oldest First"),
    ("t_apply", "Apply"),
    ("t_listed", "Listed:"),
    ("t_buy", "Buy"),
    ("t_no_tickets", "No tickets available at the moment. Check back later!"),
    ("t_inactive", "Ticket marketplace is not currently active."),
    ("t_unavailable_title", "Ticket unavailable"),
    ("t_unavailable_text", "Ticket unavailable. This ticket has just been purchased by someone else."),
    ("t_back", "Back to the ticket marketplace"),
];

/// German. pretix core strings as in pretix's `de` (formal) catalogue.
///
/// Checked against `pretix/pretix` `src/pretix/locale/de/LC_MESSAGES/django.po`
/// (catalogue of 2021-09, commit 002469d5) where noted; Django's strings
/// against `django/conf/locale/de/LC_MESSAGES/django.po`. Entries without a
/// note could not be checked (msgid missing from the stored catalogue or
/// not located) and keep their earlier wording.
const DE: Table = &[
    ("t_skip", "Zum Hauptinhalt springen"),
    ("t_contact", "Kontakt"),
    ("t_homepage", "Startseite"),
    ("t_error", "Fehler:"),
    ("t_sold_out", "Es gibt keine Tickets mehr – wir sind komplett ausverkauft."),
    ("t_products", "Produkte"),
    ("t_tickets", "Tickets"),
    ("t_unavailable", "NICHT VERFÜGBAR"),
    // msgid "from %(price)s"
    ("t_from", "ab"),
    // msgid "If you already ordered a ticket"
    ("t_already_ordered", "Wenn Sie bereits ein Ticket bestellt haben"),
    ("t_click_link", "Klicken Sie auf den Link in einer der E-Mails, die wir Ihnen geschickt haben."),
    // msgid "Your cart"
    ("t_your_cart", "Ihr Warenkorb"),
    ("t_total", "Summe"),
    // msgid "One product" / msgid_plural "%(num)s products"
    ("t_one_product", "Ein Produkt"),
    ("t_products_n", "{n} Produkte"),
    // msgid "The items in your cart are reserved for you for %(minutes)s minutes."
    ("t_reserved", "Die Produkte in Ihrem Warenkorb sind noch {n} Minuten für Sie reserviert."),
    // msgid "Checkout" (checkout_base.html)
    ("t_checkout", "Bestellung fortsetzen"),
    ("t_checkout_steps", "Bestellschritte"),
    // msgid "Current:"
    ("t_current", "Aktuell:"),
    // msgid "Step %(current)s of %(total)s: %(label)s" with the step label below
    ("t_step_title", "Schritt 1 von 3: Ihre Informationen"),
    // msgctxt "checkoutflow": "Your information", "Payment", "Review order",
    // "Order confirmed"
    ("t_step_info", "Ihre Informationen"),
    ("t_step_payment", "Zahlung"),
    ("t_step_review", "Bestellung prüfen"),
    ("t_step_done", "Bestellbestätigung"),
    // msgid "Before we continue, we need you to answer some questions."
    ("t_questions_intro", "Bitte antworten Sie auf die untenstehenden Fragen, bevor wir mit der Bestellung fortfahren."),
    // msgid "Contact information"; "E-mail"; msgctxt "form" "required"
    ("t_contact_information", "Kontaktinformationen"),
    ("t_email", "E-Mail"),
    ("t_required", "erforderlich"),
    ("t_cancel", "Abbrechen"),
    ("t_continue", "Fortfahren"),
    // Django: msgid "Forbidden", "CSRF verification failed. Request aborted."
    ("t_forbidden", "Verboten"),
    ("t_csrf_failed", "CSRF-Verifizierung fehlgeschlagen. Anfrage abgebrochen."),
    // Django's CSRF template writes this one as an untranslated literal.
    ("t_csrf_reason", "Reason given for failure:"),
    ("t_marketplace", "Ticketbörse"),
    ("t_marketplace_button", "Ticketbörse"),
    ("t_sell_yours", "Sie können nicht kommen? Verkaufen Sie Ihr Ticket weiter!"),
    ("t_browse", "Angebote ansehen"),
    ("t_how", "So funktioniert es"),
    ("t_welcome", "Hier kaufen Sie Tickets von anderen Gästen, die nicht kommen können."),
    ("t_how_buy", "Mit „Kaufen“ reservieren Sie das Ticket und gehen zur Kasse."),
    ("t_how_pay", "Bezahlen Sie sofort, um den Kauf abzuschließen."),
    ("t_important", "Wichtig: sehr kurze Zahlungsfrist!"),
    ("t_important_text", "Die Zahlung muss innerhalb von 30 Minuten nach der Bestellung erfolgen, nur per Kreditkarte."),
    ("t_how_mail", "Ihre Ticketbestätigung kommt per E-Mail."),
    ("t_how_fair", "Bei rücksichtslosem Scraping schalten wir die Börse ab."),
    ("t_how_sell", "Sie wollen Ihr Ticket verkaufen? Öffnen Sie Ihre Bestellung über den Link in der Bestätigungs-E-Mail."),
    ("t_all_tickets", "Alle Tickets"),
    ("t_sort_price_asc", "Preis aufsteigend"),
    ("t_sort_price_desc", "Preis absteigend"),
    ("t_sort_newest", "Neueste zuerst"),
    ("t_sort_oldest", "Älteste zuerst"),
    ("t_apply", "Anwenden"),
    ("t_listed", "Eingestellt:"),
    ("t_buy", "Kaufen"),
    ("t_no_tickets", "Derzeit werden keine Tickets angeboten. Schauen Sie später wieder vorbei."),
    ("t_inactive", "Die Ticketbörse ist zurzeit geschlossen."),
    ("t_unavailable_title", "Ticket nicht mehr verfügbar"),
    ("t_unavailable_text", "Dieses Ticket wurde soeben von jemand anderem gekauft."),
    ("t_back", "Zurück zur Ticketbörse"),
];

/// French. pretix core strings as in pretix's `fr` catalogue.
///
/// Checked against `pretix/pretix` `src/pretix/locale/fr/LC_MESSAGES/django.po`
/// (catalogue of 2020-10, commit 0a1a9fcf) where noted; Django's strings
/// against `django/conf/locale/fr/LC_MESSAGES/django.po`. Entries without a
/// note could not be checked and keep their earlier wording (that catalogue
/// has no "Step … of …" or "Current:" yet, and "One product" and "from" are
/// only fuzzy there).
const FR: Table = &[
    ("t_skip", "Aller au contenu principal"),
    ("t_contact", "Contact"),
    ("t_homepage", "Page d'accueil"),
    ("t_error", "Erreur :"),
    (
        "t_sold_out",
        "Il n'y a plus de billets – l'événement est complet.",
    ),
    ("t_products", "Produits"),
    ("t_tickets", "Billets"),
    ("t_unavailable", "INDISPONIBLE"),
    ("t_from", "à partir de"),
    // msgid "If you already ordered a ticket"
    ("t_already_ordered", "Si vous avez déjà commandé un billet"),
    (
        "t_click_link",
        "Cliquez sur le lien dans l'un des courriels que nous vous avons envoyés.",
    ),
    // msgid "Your cart"
    ("t_your_cart", "Votre panier"),
    ("t_total", "Total"),
    ("t_one_product", "Un produit"),
    ("t_products_n", "{n} produits"),
    // msgid "The items in your cart are reserved for you for %(minutes)s minutes."
    (
        "t_reserved",
        "Les articles de votre panier vous sont réservés pour {n} minutes.",
    ),
    // msgid "Checkout" (checkout_base.html)
    ("t_checkout", "Paiement"),
    ("t_checkout_steps", "Étapes de la commande"),
    ("t_current", "Actuel :"),
    ("t_step_title", "Étape 1 sur 3 : Vos informations"),
    // msgctxt "checkoutflow": "Your information", "Payment", "Review order",
    // "Order confirmed"
    ("t_step_info", "Vos informations"),
    ("t_step_payment", "Paiement"),
    ("t_step_review", "Validation"),
    ("t_step_done", "Commande validée"),
    // msgid "Before we continue, we need you to answer some questions."
    (
        "t_questions_intro",
        "Avant de continuer, nous avons besoin que vous répondiez à quelques questions.",
    ),
    // msgid "Contact information"; msgid "E-mail" (translated "E-Mail" there)
    ("t_contact_information", "Coordonnées de contact"),
    ("t_email", "E-Mail"),
    ("t_required", "obligatoire"),
    ("t_cancel", "Annuler"),
    ("t_continue", "Continuer"),
    // Django: msgid "Forbidden", "CSRF verification failed. Request aborted."
    ("t_forbidden", "Interdit"),
    (
        "t_csrf_failed",
        "La vérification CSRF a échoué. La requête a été interrompue.",
    ),
    // Django's CSRF template writes this one as an untranslated literal.
    ("t_csrf_reason", "Reason given for failure:"),
    ("t_marketplace", "Bourse aux billets"),
    ("t_marketplace_button", "Bourse aux billets"),
    (
        "t_sell_yours",
        "Vous ne pouvez pas venir ? Revendez votre billet !",
    ),
    ("t_browse", "Voir les offres"),
    ("t_how", "Mode d'emploi"),
    (
        "t_welcome",
        "Achetez ici les billets d'autres participants qui ne peuvent plus venir.",
    ),
    (
        "t_how_buy",
        "« Acheter » réserve le billet et ouvre la commande.",
    ),
    ("t_how_pay", "Payez tout de suite pour finaliser l'achat."),
    ("t_important", "Important : délai de paiement très court !"),
    (
        "t_important_text",
        "Le paiement doit être effectué dans les 30 minutes, par carte bancaire uniquement.",
    ),
    ("t_how_mail", "Vous recevrez la confirmation par courriel."),
    (
        "t_how_fair",
        "Nous fermerons la bourse en cas d'abus par des robots.",
    ),
    (
        "t_how_sell",
        "Vous voulez revendre votre billet ? Suivez le lien de votre courriel de confirmation.",
    ),
    ("t_all_tickets", "Tous les billets"),
    ("t_sort_price_asc", "Prix croissant"),
    ("t_sort_price_desc", "Prix décroissant"),
    ("t_sort_newest", "Plus récents"),
    ("t_sort_oldest", "Plus anciens"),
    ("t_apply", "Appliquer"),
    ("t_listed", "Mis en vente :"),
    ("t_buy", "Acheter"),
    (
        "t_no_tickets",
        "Aucun billet n'est proposé pour l'instant. Revenez plus tard !",
    ),
    (
        "t_inactive",
        "La bourse aux billets est fermée pour le moment.",
    ),
    ("t_unavailable_title", "Billet indisponible"),
    (
        "t_unavailable_text",
        "Ce billet vient d'être acheté par quelqu'un d'autre.",
    ),
    ("t_back", "Retour à la bourse aux billets"),
];

/// Dutch: the language the client has no words for.
///
/// Checked against `pretix/pretix` `src/pretix/locale/nl/LC_MESSAGES/django.po`
/// (catalogue of 2019-06, commit 003d958c) where noted. Django's Dutch CSRF
/// wording is the one Django's own test `tests/view_tests/tests/test_csrf.py`
/// asserts (the stored Dutch Django catalogue predates those strings).
/// Entries without a note could not be checked and keep their earlier
/// wording (that catalogue has no "Step … of …" or "Current:" yet; the
/// step word itself, msgctxt "checkoutflow" "Step", is "Stap").
const NL: Table = &[
    ("t_skip", "Naar de hoofdinhoud"),
    ("t_contact", "Contact"),
    ("t_homepage", "Startpagina"),
    ("t_error", "Fout:"),
    (
        "t_sold_out",
        "Er zijn geen tickets meer – we zijn helemaal uitverkocht.",
    ),
    ("t_products", "Producten"),
    ("t_tickets", "Tickets"),
    ("t_unavailable", "NIET BESCHIKBAAR"),
    ("t_from", "vanaf"),
    // msgid "If you already ordered a ticket"
    ("t_already_ordered", "Als u al een ticket heeft besteld"),
    (
        "t_click_link",
        "Klik op de link in een van de e-mails die we u hebben gestuurd.",
    ),
    // msgid "Your cart"
    ("t_your_cart", "Uw winkelwagen"),
    ("t_total", "Totaal"),
    ("t_one_product", "Eén product"),
    ("t_products_n", "{n} producten"),
    // msgid "The items in your cart are reserved for you for %(minutes)s minutes."
    (
        "t_reserved",
        "De items in uw winkelwagen zijn voor u gereserveerd voor {n} minuten.",
    ),
    // msgid "Checkout" (checkout_base.html)
    ("t_checkout", "Afrekenen"),
    ("t_checkout_steps", "Stappen"),
    ("t_current", "Huidig:"),
    ("t_step_title", "Stap 1 van 3: Uw gegevens"),
    // msgctxt "checkoutflow": "Your information", "Payment", "Review order",
    // "Order confirmed"
    ("t_step_info", "Uw gegevens"),
    ("t_step_payment", "Betaling"),
    ("t_step_review", "Controleer bestelling"),
    ("t_step_done", "Bestelling bevestigd"),
    // msgid "Before we continue, we need you to answer some questions."
    (
        "t_questions_intro",
        "Om verder te gaan moet u enkele vragen beantwoorden.",
    ),
    // msgid "Contact information"
    ("t_contact_information", "Contactgegevens"),
    ("t_email", "E-mail"),
    ("t_required", "verplicht"),
    ("t_cancel", "Annuleren"),
    ("t_continue", "Doorgaan"),
    // Django: "Forbidden", "CSRF verification failed. Request aborted."
    ("t_forbidden", "Verboden"),
    (
        "t_csrf_failed",
        "CSRF-verificatie mislukt. Verzoek afgebroken.",
    ),
    // Django's CSRF template writes this one as an untranslated literal.
    ("t_csrf_reason", "Reason given for failure:"),
    ("t_marketplace", "Ticketruilbeurs"),
    ("t_marketplace_button", "Ruilbeurs"),
    ("t_sell_yours", "Kunt u niet komen? Verkoop uw ticket door!"),
    ("t_browse", "Aanbod bekijken"),
    ("t_how", "Zo werkt het"),
    (
        "t_welcome",
        "Koop hier tickets van bezoekers die niet meer kunnen komen.",
    ),
    (
        "t_how_buy",
        "Met „Kopen” reserveert u het ticket en gaat u naar de kassa.",
    ),
    ("t_how_pay", "Betaal meteen om de aankoop af te ronden."),
    ("t_important", "Let op: zeer korte betaaltermijn!"),
    (
        "t_important_text",
        "Betaal binnen 30 minuten, alleen met een creditcard.",
    ),
    ("t_how_mail", "U ontvangt de bevestiging per e-mail."),
    ("t_how_fair", "Bij misbruik door bots sluiten we de beurs."),
    (
        "t_how_sell",
        "Wilt u uw ticket verkopen? Volg de link in uw bevestigingsmail.",
    ),
    ("t_all_tickets", "Alle tickets"),
    ("t_sort_price_asc", "Prijs oplopend"),
    ("t_sort_price_desc", "Prijs aflopend"),
    ("t_sort_newest", "Nieuwste eerst"),
    ("t_sort_oldest", "Oudste eerst"),
    ("t_apply", "Toepassen"),
    ("t_listed", "Aangeboden:"),
    ("t_buy", "Kopen"),
    (
        "t_no_tickets",
        "Op dit moment biedt niemand een ticket aan. Kijk later nog eens.",
    ),
    ("t_inactive", "De ruilbeurs is op dit moment gesloten."),
    ("t_unavailable_title", "Ticket niet meer beschikbaar"),
    (
        "t_unavailable_text",
        "Iemand anders heeft dit ticket zojuist gekocht.",
    ),
    ("t_back", "Terug naar de ruilbeurs"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_translates_every_key() {
        for lang in Lang::ALL {
            for (key, value) in lang.vars() {
                assert!(!value.is_empty(), "{lang:?} lacks {key}");
            }
        }
        for table in [DE, FR, NL] {
            assert_eq!(table.len(), EN.len());
        }
    }

    #[test]
    fn money_per_locale() {
        assert_eq!(Lang::En.listing_money(19000, "EUR"), "190.00 EUR");
        assert_eq!(Lang::En.money(19000, "EUR"), "190,00 €");
        assert_eq!(Lang::De.money(123450, "EUR"), "1.234,50 €");
        assert_eq!(Lang::Fr.money(9000, "EUR"), "90,00\u{202f}€");
        assert_eq!(Lang::Fr.money(123450, "EUR"), "1\u{202f}234,50\u{202f}€");
        assert_eq!(Lang::Nl.listing_money(9005, "EUR"), "€ 90,05");
        assert_eq!(Lang::De.money(100, "CHF"), "1,00 CHF");
    }
}

//! Facts of law the policy file has no words for: the longer retention of
//! traffic data for the gravest crimes, and which crimes it covers. Like
//! the EEA list in `custode-policy`, a table kept in code, per
//! jurisdiction.
//!
//! Italy, L. 167/2017 art. 24: telephone and telematic traffic data and
//! unanswered calls are kept **72 months**, for the crimes of art. 51,
//! c. 3-quater and art. 407, c. 2, lett. a) of the Code of Criminal
//! Procedure; data past the ordinary periods of Art. 132 Codice privacy
//! may be given only for those. The keys below name them; an order gives
//! one of them, or `other`. (Checked against the summary in LAW.md; the
//! list of art. 407 c. 2 lett. a) is longer than this first slice names:
//! an operator whose order cites a crime not here records it as `other`
//! and the ordinary periods apply.)

use custode_policy::{Period, Unit};

/// A longer retention for a list of crimes.
#[derive(Debug)]
pub struct Extension {
    /// How long.
    pub period: Period,
    /// The statute.
    pub law: &'static str,
    /// The crimes it covers: key and description with its article.
    pub crimes: &'static [(&'static str, &'static str)],
}

/// The crime key of an order about any other crime.
pub const OTHER: &str = "other";

static ITALY: Extension = Extension {
    period: Period {
        amount: 72,
        unit: Unit::Month,
    },
    law: "L. 167/2017, art. 24",
    crimes: &[
        (
            "terrorism",
            "crimes of terrorism and subversion (art. 51, c. 3-quater c.p.p.)",
        ),
        (
            "mafia_association",
            "mafia-type association (art. 416-bis c.p.; art. 407, c. 2, lett. a) c.p.p.)",
        ),
        (
            "massacre",
            "massacre and civil war (artt. 285, 286, 422 c.p.; art. 407, c. 2, lett. a) c.p.p.)",
        ),
        (
            "kidnapping_for_ransom",
            "kidnapping for ransom (art. 630 c.p.; art. 407, c. 2, lett. a) c.p.p.)",
        ),
        (
            "drug_trafficking_association",
            "association for drug trafficking (art. 74 d.P.R. 309/1990; art. 407, c. 2, lett. a) c.p.p.)",
        ),
        (
            "weapons_of_war",
            "weapons of war and explosives (art. 407, c. 2, lett. a), n. 5 c.p.p.)",
        ),
    ],
};

/// The extension in force in a jurisdiction, if any.
pub fn extension(jurisdiction: &str) -> Option<&'static Extension> {
    (jurisdiction == "IT").then_some(&ITALY)
}

impl Extension {
    /// Whether an order about `crime` may read past the ordinary periods.
    pub fn covers(&self, crime: &str) -> bool {
        self.crimes.iter().any(|(k, _)| *k == crime)
    }

    /// The crime keys an order may give, `other` last.
    pub fn keys(&self) -> Vec<&'static str> {
        self.crimes.iter().map(|(k, _)| *k).chain([OTHER]).collect()
    }
}

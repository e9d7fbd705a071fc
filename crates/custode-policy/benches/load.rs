//! Loading and validating a large generated policy.
//!
//! `cargo bench -p custode-policy --bench load [-- PURPOSES]`: generates a
//! policy with PURPOSES purposes (default 2,000), 500 categories of 8 fields,
//! 200 recipients and 20 subject kinds, all texts in four languages, then
//! times `load` (parse + validate) over repeated runs and prints the
//! distribution.

use std::fmt::Write;
use std::time::{Duration, Instant};

fn text(label: &str, n: usize) -> String {
    format!(
        "{{ it = \"{label} {n} it\", en = \"{label} {n} en\", fr = \"{label} {n} fr\", nl = \"{label} {n} nl\" }}"
    )
}

fn generate(purposes: usize) -> String {
    let categories = 500;
    let recipients = 200;
    let subjects = 20;
    let mut s = String::from(
        "[policy]\nversion = \"bench\"\neffective = \"2026-01-01\"\nlanguages = [\"it\", \"en\", \"fr\", \"nl\"]\njurisdiction = \"IT\"\n\n\
         [controller]\nname = \"Bench S.r.l.\"\naddress = \"Via Esempio 1, Prato\"\nemail = \"privacy@bench.example\"\n\n\
         [dpo]\nemail = \"dpo@bench.example\"\n\n[authority]\nname = \"Garante\"\n\n[rights]\nemail = \"privacy@bench.example\"\n\n",
    );
    for i in 0..subjects {
        let _ = write!(
            s,
            "[[subject]]\nid = \"s{i}\"\nname = {}\nclose_after_inactivity = \"24 months\"\n\n",
            text("subject", i)
        );
    }
    for i in 0..categories {
        let _ = write!(
            s,
            "[[category]]\nid = \"c{i}\"\nname = {}\nfields = [\n",
            text("category", i)
        );
        for f in 0..8 {
            let _ = writeln!(
                s,
                "  {{ id = \"f{f}\", label = {}, dpv = \"pd:Identifier\" }},",
                text("field", f)
            );
        }
        s.push_str("]\n\n");
    }
    for i in 0..recipients {
        let (country, safeguard) = if i % 10 == 0 {
            ("US", "\nsafeguard = \"scc\"")
        } else {
            ("IT", "")
        };
        let _ = write!(
            s,
            "[[recipient]]\nid = \"r{i}\"\nname = \"Recipient {i}\"\nrole = \"processor\"\ncountry = \"{country}\"{safeguard}\ndescription = {}\n\n",
            text("recipient", i)
        );
    }
    let bases = [
        "contract",
        "consent",
        "legal_obligation",
        "legitimate_interests",
    ];
    for i in 0..purposes {
        let basis = bases[i % bases.len()];
        let extra = match basis {
            "consent" => format!("withdrawal = {}\n", text("withdraw", i)),
            "legal_obligation" => format!("law = {}\n", text("law", i)),
            "legitimate_interests" => format!("interest = {}\n", text("interest", i)),
            _ => String::new(),
        };
        let _ = write!(
            s,
            "[[purpose]]\nid = \"p{i}\"\nname = {}\ndescription = {}\nbasis = \"{basis}\"\n{extra}\
             categories = [\"c{}\", \"c{}\", \"c{}\"]\nsubjects = [\"s{}\"]\nrecipients = [\"r{}\"]\n\
             retention = {{ from = \"account_closed\", keep = \"{} months\" }}\n\n",
            text("purpose", i),
            text("description", i),
            i % categories,
            (i * 7 + 1) % categories,
            (i * 13 + 2) % categories,
            i % subjects,
            i % recipients,
            1 + i % 120,
        );
    }
    s
}

fn main() {
    let purposes: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let source = generate(purposes);
    // Warm up, and prove the generated policy is valid.
    if let Err(e) = custode_policy::load("bench.toml", &source) {
        eprint!("{}", e.to_short_lines());
        std::process::exit(1);
    }
    let runs = 50;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let policy = custode_policy::load("bench.toml", &source);
            let elapsed = t.elapsed();
            assert!(policy.is_ok());
            elapsed
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // The share of the time that is TOML syntax alone, for comparison.
    let mut parse: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let doc = toml::de::DeTable::parse(&source);
            let elapsed = t.elapsed();
            assert!(doc.is_ok());
            elapsed
        })
        .collect();
    parse.sort();
    println!(
        "toml syntax only (toml::de::DeTable::parse): median {:.2} ms",
        ms(parse[runs / 2])
    );
    println!(
        "policy load+validate: {purposes} purposes, {} KiB source, {runs} runs: min {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        source.len() / 1024,
        ms(times[0]),
        ms(times[runs / 2]),
        ms(times[runs * 95 / 100]),
        ms(times[runs - 1]),
    );
}

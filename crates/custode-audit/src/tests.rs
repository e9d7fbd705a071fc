//! Each way of tampering with the log is named by `verify`.

use super::*;
use custode_crypto::Key;

fn chain(n: i64) -> Vec<Entry> {
    let mut prev = GENESIS.to_vec();
    (1..=n)
        .map(|seq| {
            let e = Entry::chain(
                &prev,
                seq,
                1_700_000_000_000_000 + seq,
                &Event {
                    actor: format!("user:{}", seq % 3),
                    action: Action::RecordsRead,
                    subject: Some(format!("subject-{seq}")),
                    reason: Some("request r-1".into()),
                    detail: serde_json::json!({ "records": seq }),
                },
            );
            prev.clone_from(&e.hash);
            e
        })
        .collect()
}

fn key() -> SigningKey {
    custode_crypto::signing_key(&Key::generate().expect("random"))
}

#[test]
fn an_untouched_chain_verifies() {
    let k = key();
    let entries = chain(50);
    let cp = Checkpoint::sign(&k, 50, &entries[49].hash, 1);
    let r = verify(&entries, &[cp], &k.verifying_key());
    assert!(r.is_intact(), "{:?}", r.breaks);
    assert_eq!((r.checked, r.last_seq), (50, 50));
}

#[test]
fn a_changed_byte_is_named() {
    let mut entries = chain(10);
    entries[4].body = entries[4].body.replace("\"records\":5", "\"records\":6");
    let r = verify(&entries, &[], &key().verifying_key());
    assert_eq!(r.breaks, vec![Break::Altered { seq: 5 }]);
}

#[test]
fn a_deleted_entry_is_named() {
    let mut entries = chain(10);
    entries.remove(6);
    let r = verify(&entries, &[], &key().verifying_key());
    assert_eq!(r.breaks, vec![Break::Missing { from: 7, to: 7 }]);
}

#[test]
fn two_swapped_entries_are_named() {
    let mut entries = chain(10);
    // Swap rows 3 and 4 but keep the seq column in order, as an UPDATE would.
    let (a, b) = (entries[2].clone(), entries[3].clone());
    entries[2] = Entry { seq: 3, ..b };
    entries[3] = Entry { seq: 4, ..a };
    let r = verify(&entries, &[], &key().verifying_key());
    assert_eq!(
        r.breaks,
        vec![
            Break::OutOfOrder {
                seq: 3,
                belongs_at: 4
            },
            Break::OutOfOrder {
                seq: 4,
                belongs_at: 3
            },
        ]
    );
}

#[test]
fn every_break_is_reported_not_only_the_first() {
    let mut entries = chain(20);
    entries[2].body = entries[2].body.replace("user:", "intruder:");
    entries.remove(10);
    let r = verify(&entries, &[], &key().verifying_key());
    assert_eq!(
        r.breaks,
        vec![
            Break::Altered { seq: 3 },
            Break::Missing { from: 11, to: 11 }
        ]
    );
}

#[test]
fn a_rewritten_chain_is_caught_by_the_signed_checkpoint() {
    let k = key();
    let entries = chain(10);
    let cp = Checkpoint::sign(&k, 8, &entries[7].hash, 1);
    // Rewrite entry 2 and recompute every hash after it: internally consistent.
    let mut forged = entries.clone();
    forged[1].body = forged[1].body.replace("user:", "someone-else:");
    let mut prev = forged[0].hash.clone();
    for e in forged.iter_mut().skip(1) {
        e.prev_hash.clone_from(&prev);
        e.hash = e.computed_hash_at(e.seq).to_vec();
        prev.clone_from(&e.hash);
    }
    let r = verify(&forged, std::slice::from_ref(&cp), &k.verifying_key());
    assert_eq!(r.breaks.len(), 1);
    assert!(matches!(r.breaks[0], Break::Checkpoint { seq: 8, .. }));
    // A cut-off tail is caught the same way.
    let r = verify(&entries[..5], &[cp], &k.verifying_key());
    assert!(
        matches!(r.breaks[0], Break::Checkpoint { seq: 8, reason } if reason.contains("cut off"))
    );
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let entries = chain(3);
    let cp = Checkpoint::sign(&key(), 3, &entries[2].hash, 1);
    let r = verify(&entries, &[cp], &key().verifying_key());
    assert!(matches!(r.breaks[0], Break::Checkpoint { seq: 3, .. }));
}

/// The fast pass over entries one by one, and over the same entries cut
/// into segments at every split point, checked apart and joined in order.
fn scans_agree(entries: &[Entry]) -> bool {
    let mut whole = QuickScan::default();
    for e in entries {
        whole.push(e.seq, &e.body, &e.hash);
    }
    for size in 1..=entries.len() + 1 {
        let mut joined = QuickScan::default();
        for run in entries.chunks(size) {
            let mut s = Segment::default();
            for e in run {
                s.push(e.seq, &e.body, &e.hash);
            }
            joined.join(s);
        }
        joined.join(Segment::default());
        assert_eq!(
            (joined.intact, joined.checked, joined.head()),
            (whole.intact, whole.checked, whole.head()),
            "segments of {size}"
        );
    }
    whole.intact
}

#[test]
fn segments_checked_apart_find_what_one_pass_finds() {
    let entries = chain(12);
    assert!(scans_agree(&entries));
    for at in 0..12 {
        let mut altered = entries.clone();
        altered[at].body = altered[at].body.replace("request", "reqvest");
        assert!(!scans_agree(&altered), "altered body at {at}");
        let mut relinked = entries.clone();
        relinked[at].hash[0] ^= 1;
        assert!(!scans_agree(&relinked), "altered hash at {at}");
        let mut missing = entries.clone();
        missing.remove(at);
        // Dropping the last entry leaves a shorter intact chain.
        assert_eq!(scans_agree(&missing), at == 11, "missing {at}");
        if at < 11 {
            let mut swapped = entries.clone();
            swapped.swap(at, at + 1);
            assert!(!scans_agree(&swapped), "swapped at {at}");
        }
    }
}

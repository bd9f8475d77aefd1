//! Journal event decoding and folding: lines `kind<TAB>payload`; each decoded event
//! re-encodes to a payload that decodes to the same event, and the sequence is folded
//! into projections (errors allowed, panics not).
#![no_main]
use journal::event::Event;
use journal::projection::Changes;
use journal::{Projections, StoredEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut proj = Projections::new();
    let mut folding = true;
    for (idx, line) in text.lines().enumerate() {
        let Some((kind, payload)) = line.split_once('\t') else {
            continue;
        };
        let Ok(event) = Event::decode(kind, payload) else {
            continue;
        };
        let again = Event::decode(event.kind(), &event.payload_json())
            .expect("a decoded event re-encodes to a decodable payload");
        assert_eq!(again, event, "decode(encode(e)) == e");
        if folding {
            let se = StoredEvent {
                idx: idx as u64,
                ts: "2025-01-01T00:00:00Z".into(),
                event,
                hash: [0; 32],
            };
            folding = proj.apply(&se, &mut Changes::default()).is_ok();
        }
    }
    let _ = proj.run_control_doc();
    let _ = proj.progress_doc();
    let _ = proj.aggregates_doc();
});

//! Remote worker protocol messages: request bodies as the worker checks them (route,
//! JSON, schema_version, schema, typed decode) and answers as the coordinator checks them.
#![no_main]
use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 8] = [
    "v1/worker/submit",
    "v1/worker/poll",
    "v1/worker/pause",
    "v1/worker/resume",
    "v1/worker/stop",
    "v1/worker/ack",
    "v1/worker/health",
    "v1/worker/tickets",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    if sel & 0x80 == 0 {
        engine::fuzzing::remote_request(PATHS[sel as usize % PATHS.len()], body);
    } else {
        engine::fuzzing::remote_response(sel, body);
    }
});

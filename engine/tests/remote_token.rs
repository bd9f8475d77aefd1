//! Reading the remote worker bearer token from the environment.
//!
//! Tests in this binary run in parallel: each uses its own variable name.

use engine::backend::remote::{resolve_remote_bearer_token, RemoteError};

fn set_env(name: &str, value: &str) {
    // Edition 2021: not `unsafe` yet. Every test owns distinct names, so parallel tests
    // never race on the same variable.
    std::env::set_var(name, value);
}

#[test]
fn resolve_remote_bearer_token_reads_env_when_present() {
    let var = "LABJ_TEST_REMOTE_TOKEN_PRESENT_7c1e";
    set_env(var, "s3cret-value-7c1e");
    assert_eq!(
        resolve_remote_bearer_token(Some(var)).unwrap(),
        Some("s3cret-value-7c1e".to_string())
    );
}

#[test]
fn resolve_remote_bearer_token_skips_unset_and_errors_for_missing_env() {
    assert_eq!(resolve_remote_bearer_token(None).unwrap(), None);

    let missing = "LABJ_TEST_REMOTE_TOKEN_MISSING_4b2d";
    std::env::remove_var(missing);
    let err = resolve_remote_bearer_token(Some(missing)).unwrap_err();
    assert!(
        matches!(&err, RemoteError::TokenEnv { var, .. } if var == missing),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(missing), "{msg}");
    assert!(msg.contains("is not set"), "{msg}");

    let empty = "LABJ_TEST_REMOTE_TOKEN_EMPTY_4b2d";
    set_env(empty, "");
    let msg = resolve_remote_bearer_token(Some(empty))
        .unwrap_err()
        .to_string();
    assert!(msg.contains(empty) && msg.contains("empty"), "{msg}");
}

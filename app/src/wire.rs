//! How data crosses between server and browser: one binary encoding, postcard, for both directions.
//!
//! Server functions answer in postcard (`output = server_fn::codec::Postcard`, errors through
//! [`crate::error::AppError`]'s `PostcardEncoding`), and every page resource is serialized into the HTML for
//! hydration with the same codec ([`resource`]). One decoder per wire type instead of JSON parsers for two
//! readers keeps the WebAssembly small (see docs/PERFORMANCE.md). Postcard is not self-describing, so wire
//! types use serde's default (externally tagged) enums and never skip fields.

use std::future::Future;

use leptos::prelude::Resource;

/// The codec of every resource: postcard, base64 in the page.
pub type Wire = codee::binary::PostcardCodec;

/// A page resource: `source` is tracked, `fetcher` loads (usually a server function). On the server its value
/// is written into the page; in the browser hydration reads it from there instead of fetching again.
#[track_caller]
pub fn resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Wire>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// Reads an encoded value, e.g. a server function's answer body as the browser does; the error says what
/// did not parse.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    <Wire as codee::Decoder<T>>::decode(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use codee::{Decoder, Encoder};

    use super::Wire;
    use crate::{
        error::AppError,
        model::services::{Freshness, TargetPortResolution, When},
    };

    fn round_trip<T>(value: &T) -> T
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let bytes = <Wire as Encoder<T>>::encode(value).unwrap();
        <Wire as Decoder<T>>::decode(&bytes).unwrap()
    }

    #[test]
    fn enums_with_data_and_results_survive_the_wire() {
        let stale = Freshness::Stale { since: When { at: "2026-11-26T17:00:00Z".into(), ago: "3m".into() } };
        assert_eq!(round_trip(&stale), stale);
        let not_checked = TargetPortResolution::NotChecked { from_endpoints: Some(8080) };
        assert_eq!(round_trip(&not_checked), not_checked);
        let refused: Result<Vec<TargetPortResolution>, AppError> =
            Err(AppError::Forbidden("you can't list pods in team-b on prod-eu".into()));
        assert_eq!(round_trip(&refused), refused);
    }

    #[test]
    fn a_truncated_answer_is_an_error_not_a_panic() {
        let bytes = <Wire as Encoder<Freshness>>::encode(&Freshness::Stale {
            since: When { at: "2026-11-26T17:00:00Z".into(), ago: String::new() },
        })
        .unwrap();
        assert!(<Wire as Decoder<Freshness>>::decode(&bytes[..bytes.len() / 2]).is_err());
    }
}

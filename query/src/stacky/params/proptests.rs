//! Properties of the `stacky/*` query parameters, whatever a client puts in
//! the query string:
//!
//! - parsing and every accessor never panic, and each refusal is a 400
//!   whose message names the parameter at fault (or, for an id, quotes it);
//! - paging, unix times, services, UUIDs and request ids rendered into a
//!   query string parse back to themselves.

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;

/// Names the accessors are asked for.
const NAMES: [&str; 10] = [
    "limit",
    "offset",
    "service",
    "uuid",
    "request_id",
    "when_min",
    "when_max",
    "field",
    "value",
    "event_type",
];

/// Pieces query strings are made of, the awkward ones included.
fn piece() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(
        &[
            "&",
            "=",
            "+",
            "%",
            "%2",
            "%zz",
            "%2B",
            "%26",
            "%3D",
            "%00",
            "%FF",
            "-1",
            "0",
            "5000",
            "1.5",
            "1e3",
            "NaN",
            "inf",
            "-0",
            "1389726000.5",
            "99999999999999999999",
            "nova",
            "glance",
            "generic",
            "req-",
            "77e0f192-00a2-4f14-ad56-7467897828ea",
            "77E0F19200A24F14AD567467897828EA",
            "é",
            " ",
        ][..],
    )
    .prop_map(str::to_owned);
    prop_oneof![
        4 => fixed,
        2 => prop::sample::select(&NAMES[..]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..16).prop_map(|pieces| pieces.concat())
}

/// Asserts that `result` is a value or a 400 whose message contains `names`.
fn refused_naming<T>(result: Result<T, ApiError>, names: &str) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        let ApiError::BadRequest { message, .. } = &error else {
            return Err(TestCaseError::fail(format!("not a 400: {error:?}")));
        };
        prop_assert!(
            message.contains(names),
            "{message:?} does not name {names:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn arbitrary_queries_are_parsed_or_refused_naming_the_parameter(query in query()) {
        let params = match Params::parse(Some(&query)) {
            Ok(params) => params,
            // A query string is form-decoded leniently; nothing is refused.
            Err(error) => return Err(TestCaseError::fail(format!("{error:?}"))),
        };
        for name in NAMES {
            refused_naming(params.required(name), name)?;
            refused_naming(params.unix_time(name), name)?;
            if let Some(value) = params.get(name) {
                // An id is quoted in its refusal: the caller knows the name.
                refused_naming(uuid(value), &format!("{value:?}"))?;
                refused_naming(request_id(value), &format!("{value:?}"))?;
            }
        }
        match params.paging() {
            Ok(paging) => {
                prop_assert!((0..=HARD_LIMIT).contains(&paging.limit));
                prop_assert!(paging.offset >= 0);
            }
            Err(ApiError::BadRequest { message, .. }) => {
                prop_assert!(message.starts_with("limit ") || message.starts_with("offset "));
            }
            Err(other) => return Err(TestCaseError::fail(format!("not a 400: {other:?}"))),
        }
        refused_naming(params.service(), "service")?;
        if let Err(error) = params.window("when_min", "when_max") {
            let ApiError::BadRequest { message, .. } = &error else {
                return Err(TestCaseError::fail(format!("not a 400: {error:?}")));
            };
            prop_assert!(message.starts_with("when_min ") || message.starts_with("when_max "));
        }
        let _ = params.unknown(&NAMES);
    }

    #[test]
    fn rendered_values_parse_back(
        limit in 0..=i64::MAX,
        offset in 0..=i64::MAX,
        // Whole microseconds from 1900 to 2106 (2^32 seconds): decimal
        // seconds an f64 still holds to the microsecond. Past that, parsing
        // through f64 can be a microsecond off.
        micros in -2_208_988_800_000_000i64..4_294_967_296_000_000,
        service in prop::sample::select(&[Service::Nova, Service::Glance, Service::Generic][..]),
        id in any::<u128>(),
    ) {
        let when = DateTime::from_timestamp_micros(micros).unwrap();
        let sign = if micros < 0 { "-" } else { "" };
        let magnitude = micros.unsigned_abs();
        let seconds = format!("{sign}{}.{:06}", magnitude / 1_000_000, magnitude % 1_000_000);
        let name = match service {
            Service::Nova => "nova",
            Service::Glance => "glance",
            Service::Generic => "generic",
        };
        let canonical = uuid::Uuid::from_u128(id).hyphenated().to_string();
        let query = serde_urlencoded::to_string([
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
            ("when_min", seconds),
            ("service", name.to_owned()),
            ("uuid", canonical.clone()),
            ("request_id", format!("req-{canonical}")),
        ])
        .unwrap();
        let params = Params::parse(Some(&query)).unwrap();
        prop_assert_eq!(
            params.paging().unwrap(),
            Paging { limit: limit.min(HARD_LIMIT), offset }
        );
        prop_assert_eq!(params.unix_time("when_min").unwrap(), Some(when));
        prop_assert_eq!(params.service().unwrap(), service);
        prop_assert_eq!(uuid(params.required("uuid").unwrap()).unwrap(), canonical.clone());
        let simple = uuid::Uuid::from_u128(id).simple().to_string();
        prop_assert_eq!(uuid(&simple).unwrap(), canonical.clone());
        prop_assert_eq!(uuid(&simple.to_uppercase()).unwrap(), canonical.clone());
        let request = params.required("request_id").unwrap();
        prop_assert_eq!(request_id(request).unwrap(), request.to_owned());
        prop_assert_eq!(request_id(&canonical).unwrap(), request.to_owned());
    }
}

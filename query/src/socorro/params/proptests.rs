//! Properties of the Socorro middleware's parameters, whatever a client
//! puts in the `/<key>/<value>/` path and the query string:
//!
//! - parsing and every accessor never panic, and each refusal is a 400 with
//!   a message that names the parameter at fault;
//! - a malformed `%` escape is always refused, and any text survives being
//!   percent-encoded into a path segment;
//! - values rendered into the path form and into the query string parse
//!   back to themselves, lists included;
//! - a date in any documented form parses back to the time it was made from.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;
use crate::error::ApiError;

/// Names the accessors are asked for: those the routes read, so arbitrary
/// input often reaches them.
const NAMES: [&str; 24] = [
    "product",
    "version",
    "versions",
    "products",
    "signature",
    "uuid",
    "from",
    "to",
    "end_date",
    "duration",
    "result_number",
    "result_offset",
    "report_process",
    "report_type",
    "for",
    "in",
    "search_mode",
    "plugin_terms",
    "plugin_in",
    "plugin_search_mode",
    "build_ids",
    "build_from",
    "os",
    "crash_type",
];

/// Pieces paths and query strings are made of, the awkward ones included:
/// separators, good and broken escapes, signs, dates, numbers.
fn piece() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(
        &[
            "/",
            "//",
            "+",
            "&",
            "=",
            "%",
            "%2",
            "%2B",
            "%2F",
            "%25",
            "%zz",
            "%+1",
            "%-1",
            "%C3%A9",
            "%FF",
            "%00",
            ":",
            "Firefox:42.0",
            "2015-11-30",
            "2015-11-30 01:02:03",
            "2015-11-30T01:02:03+01:00",
            "-5",
            "0",
            "7",
            "99999999999999999999",
            "1.5",
            "any",
            "plugin",
            "hang",
            "contains",
            "signature",
            "é",
            "\0",
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

fn input() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..16).prop_map(|pieces| pieces.concat())
}

/// Asserts that `error` is a 400 that says why and names `parameter`.
fn check_refusal(error: &ApiError, parameter: &str) -> Result<(), TestCaseError> {
    let ApiError::BadRequest {
        message,
        parameter: named,
    } = error
    else {
        return Err(TestCaseError::fail(format!("not a 400: {error:?}")));
    };
    prop_assert!(!message.trim().is_empty(), "{error:?}");
    prop_assert_eq!(named.as_deref(), Some(parameter));
    Ok(())
}

/// The parameter a 400 names, if any.
fn parameter_of(error: &ApiError) -> String {
    match error {
        ApiError::BadRequest { parameter, .. } => parameter.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Asserts that `result` is a value or a refusal naming `parameter`.
fn refused_for<T>(result: Result<T, ApiError>, parameter: &str) -> Result<(), TestCaseError> {
    match &result {
        Ok(_) => Ok(()),
        Err(error) => check_refusal(error, parameter),
    }
}

/// The names `Search::parse` reads; its refusal names one of them.
const SEARCH_NAMES: [&str; 18] = [
    "products",
    "versions",
    "report_process",
    "report_type",
    "for",
    "in",
    "search_mode",
    "from",
    "to",
    "os",
    "branches",
    "reasons",
    "build_ids",
    "build_from",
    "build_to",
    "plugin_terms",
    "plugin_in",
    "plugin_search_mode",
];

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn arbitrary_input_is_parsed_or_refused_naming_the_parameter(
        rest in input(),
        query in prop::option::of(input()),
        positional in prop::option::of(prop::sample::select(&NAMES[..])),
    ) {
        let params = match Params::parse(&rest, query.as_deref(), positional) {
            Ok(params) => params,
            Err(error) => {
                // Only a parameter name that is not valid percent-encoded
                // UTF-8 is refused this early; it names itself.
                let parameter = parameter_of(&error);
                return check_refusal(&error, &parameter);
            }
        };
        for name in NAMES {
            refused_for(params.text(name), name)?;
            refused_for(params.required(name), name)?;
            refused_for(params.list(name), name)?;
            refused_for(params.date(name), name)?;
            refused_for(params.integer(name), name)?;
            refused_for(params.count(name), name)?;
            refused_for(params.integers(name), name)?;
            refused_for(params.product_versions(name), name)?;
            refused_for(params.choice(name, &["any", "plugin"], "any"), name)?;
        }
        if let Err(error) = params.paging() {
            let parameter = parameter_of(&error);
            prop_assert!(["result_number", "result_offset"].contains(&parameter.as_str()));
            check_refusal(&error, &parameter)?;
        }
        let now = parse_date("2015-11-30").unwrap();
        if let Err(error) = Search::parse(&params, now, "Firefox") {
            let parameter = parameter_of(&error);
            prop_assert!(SEARCH_NAMES.contains(&parameter.as_str()), "{error:?}");
            check_refusal(&error, &parameter)?;
        }
    }

    #[test]
    fn malformed_escapes_are_refused(
        before in "[^%]{0,8}",
        escape in "[0-9a-fA-F+\\-g-z ]{0,2}",
        // Starting with a non-hex digit, so it cannot complete the escape.
        after in "([g-z ][^%]{0,7})?",
    ) {
        // `%` followed by anything but two hex digits.
        prop_assume!(!(escape.len() == 2 && escape.bytes().all(|byte| byte.is_ascii_hexdigit())));
        prop_assert_eq!(percent_decode(&format!("{before}%{escape}{after}")), None);
    }

    #[test]
    fn any_text_survives_percent_encoding(text in any::<String>()) {
        prop_assert_eq!(percent_decode(&encode(&text)), Some(text));
    }

    #[test]
    fn path_and_query_forms_give_back_the_values_rendered(
        product in "(?s).{1,16}",
        version in "(?s).{1,16}",
        // Query-string lists split on `+` after decoding, so an item of
        // the query form cannot hold one.
        versions in prop::collection::vec("(?s)[^+]{1,12}", 1..4),
        duration in 0..i64::MAX,
        when in date_time(),
    ) {
        let date = when.format("%Y-%m-%d %H:%M:%S%.f").to_string();
        let path = format!(
            "/product/{}/version/{}/versions/{}/duration/{duration}/end_date/{}/",
            encode(&product),
            encode(&version),
            versions.iter().map(|item| encode(item)).collect::<Vec<_>>().join("+"),
            encode(&date),
        );
        let query = serde_urlencoded::to_string([
            ("product", product.clone()),
            ("version", version.clone()),
            ("versions", versions.join("+")),
            ("duration", duration.to_string()),
            ("end_date", date),
        ])
        .unwrap();
        for params in [
            Params::parse(&path, None, None).unwrap(),
            Params::parse("", Some(&query), None).unwrap(),
        ] {
            prop_assert_eq!(params.required("product").unwrap(), product.clone());
            prop_assert_eq!(params.text("version").unwrap(), Some(version.clone()));
            prop_assert_eq!(&params.list("versions").unwrap(), &versions);
            prop_assert_eq!(params.count("duration").unwrap(), Some(duration));
            prop_assert_eq!(params.date("end_date").unwrap(), Some(when));
        }
        // The positional form of `/products/versions/<list>/`.
        let positional = format!("/{}/", versions.iter().map(|item| encode(item)).collect::<Vec<_>>().join("+"));
        let params = Params::parse(&positional, None, Some("versions")).unwrap();
        prop_assert_eq!(&params.list("versions").unwrap(), &versions);
    }

    #[test]
    fn dates_in_every_documented_form_parse_back(when in date_time(), offset_minutes in -720i32..=840) {
        let naive = when.naive_utc();
        let seconds = when.with_nanosecond(0).unwrap();
        prop_assert_eq!(parse_date(&naive.format("%Y-%m-%d").to_string()), Some(midnight(when)));
        prop_assert_eq!(parse_date(&naive.format("%Y-%m-%d %H:%M:%S").to_string()), Some(seconds));
        prop_assert_eq!(parse_date(&naive.format("%Y-%m-%d %H:%M:%S%.f").to_string()), Some(when));
        let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let local = when.with_timezone(&zone);
        let iso = local.format("%Y-%m-%dT%H:%M:%S%.f%:z").to_string();
        prop_assert_eq!(parse_date(&iso), Some(when));
        // A `+` offset sent unencoded in a query string arrives as a space.
        prop_assert_eq!(parse_date(&iso.replace('+', " ")), Some(when));
    }

    #[test]
    fn arbitrary_dates_never_panic(text in input()) {
        if let Some(when) = parse_date(&text) {
            prop_assert!((1..=9999).contains(&when.year()));
        }
    }
}

/// Percent-encodes every byte but unreserved ones, as a client building a
/// path segment would (so `+`, `/` and `%` in a value are encoded).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A time, to the microsecond, in the years a date may have (1 to 9999),
/// far enough from the ends that any offset keeps it there.
fn date_time() -> impl Strategy<Value = DateTime<Utc>> {
    let first = NaiveDateTime::parse_from_str("0001-01-02 00:00:00", "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros();
    let last = NaiveDateTime::parse_from_str("9999-12-30 23:59:59", "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros();
    (first..=last).prop_map(|micros| DateTime::from_timestamp_micros(micros).unwrap())
}

fn midnight(when: DateTime<Utc>) -> DateTime<Utc> {
    when.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

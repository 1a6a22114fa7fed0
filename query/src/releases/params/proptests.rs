//! Properties of the release routes' (Orlo's) query parameters, whatever a
//! client puts in the query string:
//!
//! - parsing, paging and the filters never panic, and each refusal is a 400
//!   whose message names the parameter at fault;
//! - filters of every kind rendered into a query string parse back to the
//!   values rendered, and an unencoded `+` offset reads as the encoded one;
//! - release and package ids in any accepted form come back canonical.

use chrono::{DateTime, FixedOffset, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;
use crate::error::ApiError;

/// Every name a filter or paging may use.
fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = RELEASE_FIELDS.iter().map(|(name, _)| *name).collect();
    names.extend(PACKAGE_FIELDS.iter().map(|(name, _)| *name));
    names.extend(PAGING);
    names
}

/// Pieces query strings are made of, the awkward ones included.
fn piece() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(
        &[
            "&",
            "=",
            "+",
            "%",
            "%zz",
            "%2B",
            "%26",
            "%00",
            "%FF",
            "null",
            "true",
            "False",
            "1",
            "2",
            "-1",
            "1.5",
            "99999999999999999999",
            "SUCCESSFUL",
            "failed",
            "2015-11-30",
            "2015-11-30T01:02:03+01:00",
            "2015-11-30 01:02:03 01:00",
            "é",
            " ",
            "x",
        ][..],
    )
    .prop_map(str::to_owned);
    prop_oneof![
        4 => fixed,
        3 => prop::sample::select(names()).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..16).prop_map(|pieces| pieces.concat())
}

/// Asserts that `result` is a value or a 400 whose message names one of
/// the parameters given (as it is, or quoted).
fn check<T>(result: Result<T, ApiError>, pairs: &[(String, String)]) -> Result<(), TestCaseError> {
    let Err(error) = result else {
        return Ok(());
    };
    let ApiError::BadRequest { message, .. } = &error else {
        return Err(TestCaseError::fail(format!("not a 400: {error:?}")));
    };
    // A name is quoted where it may be anything (an unknown field, even
    // an empty one), and leads the message where it is a known one.
    let named = pairs.iter().any(|(name, _)| {
        message.contains(&format!("{name:?}"))
            || (!name.is_empty() && message.starts_with(&format!("{name} ")))
    });
    prop_assert!(named, "{message:?} names no parameter");
    Ok(())
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 1900 to 2200, to the microsecond.
    (-2_208_988_800_000_000i64..7_258_118_400_000_000)
        .prop_map(|micros| DateTime::from_timestamp_micros(micros).unwrap())
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn arbitrary_queries_are_parsed_or_refused_naming_the_parameter(query in query()) {
        let params = match Params::parse(Some(&query)) {
            Ok(params) => params,
            Err(error) => return Err(TestCaseError::fail(format!("{error:?}"))),
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap();
        check(params.paging(), &pairs)?;
        check(params.release_filters(), &pairs)?;
        check(params.package_filters(), &pairs)?;
        for (_, value) in &pairs {
            check(time("stime_before", value), &[("stime_before".into(), String::new())])?;
        }
    }

    #[test]
    fn rendered_filters_parse_back(
        user in "(?s).{0,16}",
        status in prop::sample::select(&["NOT_STARTED", "IN_PROGRESS", "SUCCESSFUL", "FAILED"][..]),
        started in instant(),
        offset_minutes in -720i32..=840,
        duration in any::<i64>(),
        rollback in any::<bool>(),
        limit in 0..=i64::MAX,
        offset in 0..=i64::MAX,
        ascending in any::<bool>(),
    ) {
        let zone = FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let iso = started.with_timezone(&zone).to_rfc3339();
        let query = serde_urlencoded::to_string([
            ("user", user.clone()),
            ("status", status.to_owned()),
            ("stime_before", iso.clone()),
            ("duration_lt", duration.to_string()),
            ("package_rollback", rollback.to_string()),
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
            ("asc", ascending.to_string()),
        ])
        .unwrap();
        let params = Params::parse(Some(&query)).unwrap();
        let paging = params.paging().unwrap();
        prop_assert_eq!(
            (paging.limit, paging.offset, paging.ascending),
            (limit.min(HARD_LIMIT), offset, ascending)
        );
        let user = if user == "null" { Value::Null } else { Value::Text(user) };
        prop_assert_eq!(
            params.release_filters().unwrap(),
            vec![
                Filter { field: Field::User, value: user },
                Filter { field: Field::Status, value: Value::Text(status.to_owned()) },
                Filter { field: Field::StimeBefore, value: Value::Time(started) },
                Filter { field: Field::DurationLt, value: Value::Seconds(duration) },
                Filter { field: Field::PackageRollback, value: Value::Bool(rollback) },
            ]
        );
        // orloclient does not encode values: a `+` offset arrives as a space.
        let unencoded = Params::parse(Some(&format!("stime_before={iso}"))).unwrap();
        prop_assert_eq!(
            unencoded.release_filters().unwrap(),
            vec![Filter { field: Field::StimeBefore, value: Value::Time(started) }]
        );
    }

    #[test]
    fn ids_in_any_accepted_form_come_back_canonical(id in any::<u128>()) {
        let id = uuid::Uuid::from_u128(id);
        let canonical = id.hyphenated().to_string();
        for form in [canonical.clone(), id.simple().to_string()] {
            prop_assert_eq!(uuid("release id", &form).unwrap(), canonical.clone());
        }
    }

    #[test]
    fn ids_are_refused_naming_what_they_are(text in "(?s).{0,40}") {
        if let Err(ApiError::BadRequest { message, .. }) = uuid("package id", &text) {
            prop_assert!(message.starts_with("package id "), "{message:?}");
        }
    }
}

//! The parameter toolkit the families share: a query string as
//! first-value-wins pairs, with the checks every family makes the same way
//! (required values, unknown names, non-negative integers, pages), and the
//! shared parameters as OpenAPI documents them. Each family adds its own
//! on top (stacky's services and windows, Orlo's filters); Socorro's path
//! form is its own (socorro/params.rs) and shares [`Page`].

use std::collections::HashSet;

use utoipa::IntoParams;

use crate::error::ApiError;

/// A query string as first-value-wins pairs, in the order given (repeats
/// are ignored).
#[derive(Debug, Default)]
pub struct QueryPairs {
    pairs: Vec<(String, String)>,
}

impl QueryPairs {
    /// Parses a raw query string; a malformed escape is an error rather
    /// than a guess.
    pub fn parse(query: Option<&str>) -> Result<QueryPairs, ApiError> {
        let raw: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|error| ApiError::bad(format!("malformed query string: {error}")))?;
        let mut seen = HashSet::with_capacity(raw.len());
        let pairs = raw
            .into_iter()
            .filter(|(key, _)| seen.insert(key.clone()))
            .collect();
        Ok(QueryPairs { pairs })
    }

    /// Every name and its first value, in the order given.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// A parameter's value, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// A parameter that must be given and not empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(ApiError::bad(format!("missing required parameter {name}"))),
        }
    }

    /// The names given that are not in `allowed`, sorted.
    pub fn unknown<'a>(&'a self, allowed: &[&str]) -> Vec<&'a str> {
        let mut unknown: Vec<&str> = self
            .pairs()
            .map(|(key, _)| key)
            .filter(|key| !allowed.contains(key))
            .collect();
        unknown.sort_unstable();
        unknown
    }

    /// A non-negative integer, if given.
    pub fn non_negative(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(number) if number >= 0 => Ok(Some(number)),
            _ => Err(ApiError::bad(format!(
                "{name} must be a non-negative integer, not {text:?}"
            ))),
        }
    }

    /// `limit` (default `default_limit`, clamped to `hard_limit`) and `offset`.
    pub fn page(&self, default_limit: i64, hard_limit: i64) -> Result<Page, ApiError> {
        let limit = self
            .non_negative("limit")?
            .unwrap_or(default_limit)
            .min(hard_limit);
        let offset = self.non_negative("offset")?.unwrap_or(0);
        Ok(Page { limit, offset })
    }
}

/// A page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// At most this many rows.
    pub limit: i64,
    /// Skipping this many.
    pub offset: i64,
}

/// `limit` and `offset` of the paged lists, as documented.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Paging {
    /// Most rows to return (default and cap per endpoint).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    limit: Option<i64>,
    /// Rows to skip (default 0).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    offset: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_wins_and_order_is_kept() {
        let pairs = QueryPairs::parse(Some("b=2&a=1&b=3&c=")).unwrap();
        assert_eq!(
            pairs.pairs().collect::<Vec<_>>(),
            [("b", "2"), ("a", "1"), ("c", "")]
        );
        assert_eq!(pairs.get("b"), Some("2"));
        assert!(pairs.required("c").is_err());
        assert_eq!(pairs.unknown(&["a"]), ["b", "c"]);
    }

    #[test]
    fn pages_clamp_and_refuse_what_is_not_a_count() {
        let page = QueryPairs::parse(Some("limit=5000&offset=3"))
            .unwrap()
            .page(50, 1000)
            .unwrap();
        assert_eq!(
            page,
            Page {
                limit: 1000,
                offset: 3
            }
        );
        let default = QueryPairs::parse(None).unwrap().page(50, 1000).unwrap();
        assert_eq!(
            default,
            Page {
                limit: 50,
                offset: 0
            }
        );
        for bad in ["limit=-1", "limit=ten", "offset=1.5"] {
            assert!(
                QueryPairs::parse(Some(bad))
                    .unwrap()
                    .page(50, 1000)
                    .is_err(),
                "{bad}"
            );
        }
    }
}

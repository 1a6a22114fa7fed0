//! SQL pieces every family's queries share.

use sqlx::{Postgres, QueryBuilder};

/// ` LIMIT $n OFFSET $m`.
pub fn push_page(query: &mut QueryBuilder<Postgres>, limit: i64, offset: i64) {
    query
        .push(" LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
}

/// ` LIMIT $n`.
pub fn push_limit(query: &mut QueryBuilder<Postgres>, limit: i64) {
    query.push(" LIMIT ").push_bind(limit);
}

/// ` LIMIT n OFFSET m`, written into the statement rather than bound, for
/// statements whose plan does not depend on their values.
///
/// With the limit a parameter, PostgreSQL's generic plan assumes it returns
/// a tenth of the rows and costs an ordered index walk as a sort, so it keeps
/// planning every execution anew: for a 50-row search of one column and
/// family over the partitions of `raw_events`, 0.7 ms of planning for 0.2 ms
/// of execution. With the limit in the text the cached generic plan is
/// chosen after the first executions (0.91 → 0.24 ms per search in
/// pgbench). Where the best plan does depend on the values (a time window
/// that prunes partitions, a rare or a frequent instance), the plan made
/// for each execution stays, and so does [`push_page`]. Both numbers are
/// integers the parameter parsers bounded: nothing a client sends reaches
/// the text.
pub fn push_page_in_text(query: &mut QueryBuilder<Postgres>, limit: i64, offset: i64) {
    query.push(format!(" LIMIT {limit} OFFSET {offset}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bound_or_written_as_literals() {
        let mut query = QueryBuilder::<Postgres>::new("SELECT 1");
        push_page(&mut query, 50, 100);
        push_limit(&mut query, 7);
        push_page_in_text(&mut query, 50, 100);
        assert_eq!(
            query.sql().as_str(),
            "SELECT 1 LIMIT $1 OFFSET $2 LIMIT $3 LIMIT 50 OFFSET 100"
        );
    }
}

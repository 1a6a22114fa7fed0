//! Advisory locks on derived-data keys (DESIGN.md step 3): every derivation
//! of the write path locks its keys through here, so all locks share one id
//! space and are always taken in sorted order.

use sqlx::PgConnection;

/// A stable 64-bit FNV-1a hash of a key's parts: the same key gets the same
/// advisory lock in every process. A collision only serializes a little more.
pub fn lock_id(parts: &[&str]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash as i64
}

/// Takes the transaction-scoped locks `ids`, sorted and deduplicated, so two
/// workers never wait on each other in opposite orders.
pub async fn lock_sorted(tx: &mut PgConnection, mut ids: Vec<i64>) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    sqlx::query("SELECT count(pg_advisory_xact_lock(id)) FROM (SELECT unnest($1::bigint[]) AS id ORDER BY 1) AS sorted")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ids_separate_their_parts() {
        assert_ne!(lock_id(&["ab", "c"]), lock_id(&["a", "bc"]));
        assert_eq!(lock_id(&["timing", "x"]), lock_id(&["timing", "x"]));
    }
}

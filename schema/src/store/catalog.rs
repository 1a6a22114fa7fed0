//! The distinct event names, hosts and tenants of each family, kept on ingest so the
//! `stacky/events` and `stacky/hosts` lists cost the size of the list.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use sqlx::PgConnection;

use crate::event::Event;

/// Names this process has already stored, so most batches skip the catalog.
#[derive(Default)]
pub struct KnownNames {
    names: Mutex<HashSet<CatalogEntry>>,
}

/// One catalog row: an event name or a host of a family.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CatalogEntry {
    /// An event name.
    Event(&'static str, String),
    /// A host.
    Host(&'static str, String),
    /// A tenant.
    Tenant(String),
}

impl KnownNames {
    /// The entries of `events` not yet known, sorted.
    pub fn unknown<'a>(&self, events: impl Iterator<Item = &'a Event>) -> BTreeSet<CatalogEntry> {
        let known = self
            .names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut unknown = BTreeSet::new();
        for event in events {
            let family = event.family.as_str();
            let name = CatalogEntry::Event(family, event.event_type.clone());
            if !known.contains(&name) {
                unknown.insert(name);
            }
            if let Some(tenant) = &event.tenant {
                let tenant = CatalogEntry::Tenant(tenant.clone());
                if !known.contains(&tenant) {
                    unknown.insert(tenant);
                }
            }
            if let Some(host) = &event.host {
                let host = CatalogEntry::Host(family, host.clone());
                if !known.contains(&host) {
                    unknown.insert(host);
                }
            }
        }
        unknown
    }

    /// Records entries once their transaction committed.
    pub fn remember(&self, entries: BTreeSet<CatalogEntry>) {
        let mut known = self
            .names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.extend(entries);
    }
}

/// Inserts the entries, sorted (so concurrent workers never deadlock).
pub async fn insert(
    tx: &mut PgConnection,
    entries: &BTreeSet<CatalogEntry>,
) -> Result<(), sqlx::Error> {
    let (mut event_families, mut events, mut host_families, mut hosts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut tenants = Vec::new();
    for entry in entries {
        match entry {
            CatalogEntry::Event(family, name) => {
                event_families.push(*family);
                events.push(name.as_str());
            }
            CatalogEntry::Host(family, host) => {
                host_families.push(*family);
                hosts.push(host.as_str());
            }
            CatalogEntry::Tenant(tenant) => tenants.push(tenant.as_str()),
        }
    }
    if !events.is_empty() {
        sqlx::query(
            "INSERT INTO event_names (family, event)
             SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
             ON CONFLICT DO NOTHING",
        )
        .bind(&event_families)
        .bind(&events)
        .execute(&mut *tx)
        .await?;
    }
    if !hosts.is_empty() {
        sqlx::query(
            "INSERT INTO event_hosts (family, host)
             SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
             ON CONFLICT DO NOTHING",
        )
        .bind(&host_families)
        .bind(&hosts)
        .execute(&mut *tx)
        .await?;
    }
    if !tenants.is_empty() {
        sqlx::query(
            "INSERT INTO event_tenants (tenant)
             SELECT * FROM unnest($1::text[]) ORDER BY 1
             ON CONFLICT DO NOTHING",
        )
        .bind(&tenants)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

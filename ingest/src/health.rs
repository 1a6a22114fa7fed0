//! Whether this tach-ingest is doing its job, for `/readyz` and the
//! connection metrics: each deployment's consumers attached to their queues
//! (the consumer says so as it attaches and detaches) and the database
//! answering.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::PgPool;

use crate::metrics;

/// The consumers of every deployment and the database, as `/readyz` sees them.
#[derive(Clone, Default)]
pub struct Health {
    consumers: Arc<Mutex<BTreeMap<String, ConsumerHealth>>>,
    pool: Arc<OnceLock<PgPool>>,
}

/// One deployment's consumers.
#[derive(Clone)]
pub struct ConsumerHealth {
    deployment: String,
    consuming: Arc<AtomicBool>,
    ever_consumed: Arc<AtomicBool>,
}

impl ConsumerHealth {
    /// Every queue of the deployment has its consumer.
    pub fn attached(&self) {
        self.consuming.store(true, Ordering::SeqCst);
        self.ever_consumed.store(true, Ordering::SeqCst);
        metrics::consumer_up(&self.deployment, true);
    }

    /// The session ended: the consumers are gone until the next one.
    pub fn detached(&self) {
        self.consuming.store(false, Ordering::SeqCst);
        metrics::consumer_up(&self.deployment, false);
    }

    /// True once the deployment has consumed since this process started:
    /// from then on every failure is retried (a password rotated under a
    /// running consumer is fixed where it is set, not by restarting).
    pub fn ever_consumed(&self) -> bool {
        self.ever_consumed.load(Ordering::SeqCst)
    }

    fn consuming(&self) -> bool {
        self.consuming.load(Ordering::SeqCst)
    }
}

impl Health {
    /// The health of a deployment, added (not consuming) the first time.
    /// tach-ingest registers its deployments before it connects anywhere,
    /// so `/readyz` names them from the start.
    pub fn register(&self, deployment: &str) -> ConsumerHealth {
        let mut consumers = self.consumers.lock().expect("health lock poisoned");
        consumers
            .entry(deployment.to_owned())
            .or_insert_with(|| {
                metrics::consumer_up(deployment, false);
                ConsumerHealth {
                    deployment: deployment.to_owned(),
                    consuming: Arc::default(),
                    ever_consumed: Arc::default(),
                }
            })
            .clone()
    }

    /// The pool `/readyz` checks; until it is set, the database counts as
    /// not connected.
    pub fn set_pool(&self, pool: PgPool) {
        let _ = self.pool.set(pool);
    }

    /// Asks the database and reads the consumers.
    pub async fn check(&self) -> Result<(), Vec<String>> {
        let database = match self.pool.get() {
            None => Err("not connected yet".to_owned()),
            Some(pool) => {
                let ping = sqlx::query("SELECT 1").execute(pool);
                match tokio::time::timeout(Duration::from_secs(2), ping).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("no answer within 2 s".to_owned()),
                }
            }
        };
        let consuming: BTreeMap<String, bool> = self
            .consumers
            .lock()
            .expect("health lock poisoned")
            .iter()
            .map(|(name, consumer)| (name.clone(), consumer.consuming()))
            .collect();
        verdict(&consuming, database)
    }
}

/// Ready when the database answers and every deployment consumes; otherwise
/// one line per reason.
pub fn verdict(
    consuming: &BTreeMap<String, bool>,
    database: Result<(), String>,
) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if let Err(why) = database {
        reasons.push(format!("database: {why}"));
    }
    if consuming.is_empty() {
        reasons.push("no deployment configured".to_owned());
    }
    for (deployment, consuming) in consuming {
        if !consuming {
            reasons.push(format!("deployment {deployment}: consumers not attached"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consuming(states: &[(&str, bool)]) -> BTreeMap<String, bool> {
        states
            .iter()
            .map(|(name, state)| (name.to_string(), *state))
            .collect()
    }

    #[test]
    fn ready_only_with_the_database_and_every_consumer() {
        assert_eq!(
            verdict(&consuming(&[("east", true), ("west", true)]), Ok(())),
            Ok(())
        );
        assert_eq!(
            verdict(&consuming(&[("east", true), ("west", false)]), Ok(())),
            Err(vec!["deployment west: consumers not attached".to_owned()])
        );
        assert_eq!(
            verdict(
                &consuming(&[("east", false)]),
                Err("no answer within 2 s".into())
            ),
            Err(vec![
                "database: no answer within 2 s".to_owned(),
                "deployment east: consumers not attached".to_owned(),
            ])
        );
        assert_eq!(
            verdict(&BTreeMap::new(), Ok(())),
            Err(vec!["no deployment configured".to_owned()])
        );
    }
}

//! `stacky/watch/<deployment_id>/stream`: `watch` pushed as Server-Sent
//! Events, each message's `data:` one watch row and its `id:` a cursor in
//! commit order (`<transaction>-<index>`), so a client that reconnects with
//! `Last-Event-ID` gets every event committed since, once. The feed is
//! `live_commits` (migration 0015): a poll takes the batches below its
//! snapshot's xmin, which no later commit can precede.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use sqlx::types::Json;
use sqlx::PgPool;
use tach_schema::store::live::LiveRow;
use tokio_util::sync::CancellationToken;

use super::params::{Params, Service};
use super::render;
use crate::error::ApiError;
use crate::state::AppState;

/// How often a stream asks for new batches.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Most batches one poll reads.
const BATCHES_PER_POLL: i64 = 200;

/// Where a client is in the feed: the entries of transaction `xact` from
/// `next_index` on, and every later transaction, are still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The transaction id (xid8).
    pub xact: u64,
    /// The first entry of `xact` not yet sent.
    pub next_index: usize,
}

impl Position {
    /// The position after the event whose id is `id` (`<xact>-<index>`);
    /// None when `id` is not one of ours.
    pub fn after(id: &str) -> Option<Position> {
        let (xact, index) = id.trim().split_once('-')?;
        Some(Position {
            xact: xact.parse().ok()?,
            next_index: index.parse::<usize>().ok()?.checked_add(1)?,
        })
    }

    /// The id of entry `index` of transaction `xact`.
    pub fn event_id(xact: u64, index: usize) -> String {
        format!("{xact}-{index}")
    }
}

/// What a client asked to see.
#[derive(Debug, Clone)]
struct Filter {
    deployment_id: Option<i32>,
    families: &'static [&'static str],
    event_name: Option<String>,
    glance: bool,
}

impl Filter {
    fn keeps(&self, row: &LiveRow) -> bool {
        self.families.contains(&row.2.as_str())
            && self.event_name.as_deref().is_none_or(|name| name == row.4)
    }
}

/// One batch of the feed.
#[derive(sqlx::FromRow)]
struct Batch {
    xact: i64,
    deployment: String,
    events: Json<Vec<LiveRow>>,
}

/// A poll's row: the snapshot's xmin, and a batch unless none was found.
#[derive(sqlx::FromRow)]
struct Polled {
    xmin: i64,
    xact: Option<i64>,
    deployment: Option<String>,
    events: Option<Json<Vec<LiveRow>>>,
}

/// The batches at or after `from` that every reader will ever see there,
/// and the snapshot's xmin, below which the feed is final. One statement,
/// so the rows and the xmin come from one snapshot
/// (`pg_current_snapshot()` is the statement's).
async fn poll(
    pool: &PgPool,
    from: Position,
    deployment_id: Option<i32>,
) -> Result<(Vec<Batch>, u64), sqlx::Error> {
    let rows = sqlx::query_as::<_, Polled>(
        "WITH snapshot AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
         SELECT s.xmin::text::bigint AS xmin, b.xact, b.deployment, b.events
           FROM snapshot s
           LEFT JOIN LATERAL (
                SELECT c.xact::text::bigint AS xact, d.name AS deployment, c.events
                  FROM live_commits c JOIN deployments d ON d.id = c.deployment_id
                 WHERE c.xact >= $1::text::xid8 AND c.xact < s.xmin
                   AND ($2::int IS NULL OR c.deployment_id = $2)
                 ORDER BY c.xact
                 LIMIT $3) b ON true
          ORDER BY b.xact",
    )
    .bind(from.xact.to_string())
    .bind(deployment_id)
    .bind(BATCHES_PER_POLL)
    .fetch_all(pool)
    .await?;
    let xmin = rows.first().map_or(0, |row| row.xmin);
    let batches = rows
        .into_iter()
        .filter_map(|row| {
            Some(Batch {
                xact: row.xact?,
                deployment: row.deployment?,
                events: row.events?,
            })
        })
        .collect();
    Ok((batches, u64::try_from(xmin).unwrap_or(0)))
}

/// Where a new client starts: everything that commits from now on.
async fn now(pool: &PgPool) -> Result<Position, sqlx::Error> {
    let xmin: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
    Ok(Position {
        xact: u64::try_from(xmin).unwrap_or(0),
        next_index: 0,
    })
}

/// The SSE events of `batches` after `from` that `filter` keeps, and the
/// position after them (`xmin` when no batch was left unread).
fn events_of(
    batches: &[Batch],
    from: Position,
    filter: &Filter,
    xmin: u64,
) -> (Vec<Event>, Position) {
    let mut events = Vec::new();
    let mut position = from;
    for batch in batches {
        let xact = u64::try_from(batch.xact).unwrap_or(0);
        let first = if xact == from.xact {
            from.next_index
        } else {
            0
        };
        for (index, row) in batch.events.iter().enumerate().skip(first) {
            if !filter.keeps(row) {
                continue;
            }
            let uuid = if filter.glance { &row.6 } else { &row.5 };
            let data = render::watch_row(
                row.0,
                row.1,
                row.when(),
                &batch.deployment,
                &row.4,
                uuid.as_deref(),
            );
            events.push(
                Event::default()
                    .id(Position::event_id(xact, index))
                    .data(data.to_string()),
            );
        }
        position = Position {
            xact: xact.saturating_add(1),
            next_index: 0,
        };
    }
    if (batches.len() as i64) < BATCHES_PER_POLL && xmin > position.xact {
        position = Position {
            xact: xmin,
            next_index: 0,
        };
    }
    (events, position)
}

#[utoipa::path(get, path = "/stacky/watch/{deployment_id}/stream", tag = "stacky",
    params(("deployment_id" = i32, Path, minimum = 0, description = "A deployment's `#`; 0 watches every deployment"),
        ("event_name" = Option<String>, Query, description = "Only events of this name"),
        ("service" = inline(Option<Service>), Query, description = "nova when absent"),
        ("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received: the stream resumes after it, without gaps or repeats (within the feed's hour)")),
    responses((status = 200, description = "Server-Sent Events: each `data:` one `watch` row `[id, \"E\" or \" \", date, time, deployment, event, uuid]`, each `id:` a cursor in commit order", content_type = "text/event-stream", body = String)))]
pub async fn watch_stream(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let params = Params::parse(query.as_deref())?;
    let service = params.service()?;
    let deployment_id = super::routes::deployment_filter(&deployment)?;
    let filter = Filter {
        deployment_id,
        families: service.families(),
        event_name: params
            .get("event_name")
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        glance: service == Service::Glance,
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(Position::after);
    let start = match resume {
        Some(position) => position,
        None => now(&state.pool).await?,
    };
    let feed = Feed {
        pool: state.pool.clone(),
        filter,
        position: start,
        // Browsers reconnect after a second, sending the last id they got.
        ready: VecDeque::from([Event::default()
            .retry(Duration::from_secs(1))
            .comment("tach live feed")]),
        polled: false,
        shutdown: state.shutdown.clone(),
    };
    Ok(Sse::new(stream::unfold(feed, Feed::next)).keep_alive(KeepAlive::default()))
}

/// One client's stream: what it has been sent and what is ready to send.
struct Feed {
    pool: PgPool,
    filter: Filter,
    position: Position,
    ready: VecDeque<Event>,
    polled: bool,
    shutdown: CancellationToken,
}

impl Feed {
    /// The next event, polling every [`POLL_EVERY`] until there is one; the
    /// end of the stream when the server stops or the database fails (the
    /// client reconnects with its last id, so nothing is lost by ending).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        loop {
            if self.shutdown.is_cancelled() {
                return None;
            }
            if let Some(event) = self.ready.pop_front() {
                return Some((Ok(event), self));
            }
            if self.polled {
                tokio::select! {
                    _ = self.shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                }
            }
            self.polled = true;
            match poll(&self.pool, self.position, self.filter.deployment_id).await {
                Ok((batches, xmin)) => {
                    let (events, next) = events_of(&batches, self.position, &self.filter, xmin);
                    self.ready.extend(events);
                    self.position = next;
                }
                Err(error) => {
                    tracing::warn!(%error, "live stream poll failed, ending the stream");
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, family: &str, event: &str) -> LiveRow {
        LiveRow(
            id,
            false,
            family.into(),
            1_700_000_000_000_000,
            event.into(),
            Some(format!("instance-{id}")),
            None,
        )
    }

    fn batch(xact: i64, rows: Vec<LiveRow>) -> Batch {
        Batch {
            xact,
            deployment: "east".into(),
            events: Json(rows),
        }
    }

    fn nova(event_name: Option<&str>) -> Filter {
        Filter {
            deployment_id: None,
            families: Service::Nova.families(),
            event_name: event_name.map(str::to_owned),
            glance: false,
        }
    }

    /// The ids of the events, as the client would see them.
    fn ids(events: &[Event]) -> Vec<String> {
        // An Event renders as SSE text; its id line is what a client keeps.
        events
            .iter()
            .map(|event| {
                let text = format!("{event:?}");
                let start = text.find("id: ").expect("an id") + 4;
                text[start..].split(['\\', '\n']).next().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn an_event_id_resumes_after_itself() {
        assert_eq!(
            Position::after("7341-2"),
            Some(Position {
                xact: 7341,
                next_index: 3
            })
        );
        assert_eq!(
            Position::after(" 12-0 "),
            Some(Position {
                xact: 12,
                next_index: 1
            })
        );
        assert_eq!(Position::after("7341"), None);
        assert_eq!(Position::after("x-1"), None);
        assert_eq!(Position::after("1--1"), None);
        assert_eq!(Position::event_id(7341, 2), "7341-2");
    }

    #[test]
    fn a_resumed_stream_skips_what_was_sent_and_keeps_the_rest_in_commit_order() {
        let batches = [
            batch(
                100,
                vec![
                    row(9, "nova", "compute.instance.create.start"),
                    row(7, "nova", "compute.instance.create.end"),
                    row(8, "glance", "image.upload"),
                ],
            ),
            batch(103, vec![row(5, "nova", "compute.instance.delete.start")]),
        ];
        let from = Position::after("100-0").unwrap();
        let (events, next) = events_of(&batches, from, &nova(None), 110);
        assert_eq!(ids(&events), ["100-1", "103-0"]);
        // Both batches read, fewer than a poll's worth: on to the xmin.
        assert_eq!(
            next,
            Position {
                xact: 110,
                next_index: 0
            }
        );

        let (events, _) = events_of(
            &batches,
            Position {
                xact: 0,
                next_index: 0,
            },
            &nova(Some("compute.instance.delete.start")),
            104,
        );
        assert_eq!(ids(&events), ["103-0"]);
    }

    #[test]
    fn an_empty_poll_moves_to_the_xmin_and_never_back() {
        let start = Position {
            xact: 50,
            next_index: 4,
        };
        assert_eq!(
            events_of(&[], start, &nova(None), 60).1,
            Position {
                xact: 60,
                next_index: 0
            }
        );
        assert_eq!(events_of(&[], start, &nova(None), 50).1, start);
    }
}

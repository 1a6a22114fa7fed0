//! Assembles the HTTP application: every family's route table, tach's own
//! endpoints, the OpenAPI document built from them, and the layers around.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tower_http::timeout::TimeoutLayer;
use utoipa_axum::routes;

use crate::access;
use crate::edge::{self, AskedPath, Routes};
use crate::error::{self, ApiError, Family};
use crate::metrics;
use crate::replica::Replication;
pub use crate::state::AppState;

/// Every route with its handler and operation: the families' and tach's own.
pub fn route_tables() -> Vec<Routes> {
    vec![
        own_routes(),
        crate::stacky::routes(),
        crate::socorro::routes(),
        crate::releases::routes(),
        crate::ui::routes(),
    ]
}

/// The routed paths, their OpenAPI document and the roots of each family.
pub struct Assembled {
    /// Every route.
    pub router: Router<AppState>,
    /// The document of every route.
    pub document: utoipa::openapi::OpenApi,
    /// Which family each path root belongs to.
    pub roots: Vec<(String, Family)>,
}

/// Builds every table once.
pub fn assemble() -> Assembled {
    let mut router = Router::new();
    let mut families = Vec::new();
    let mut schemas = Vec::new();
    let mut roots = Vec::new();
    for table in route_tables() {
        let family = table.family;
        let built = table.build();
        router = router.merge(built.router);
        families.push((family, built.paths));
        schemas.extend(built.schemas);
        roots.extend(built.roots);
    }
    Assembled {
        router,
        document: crate::openapi::document(families, schemas),
        roots,
    }
}

/// Builds the application over `state`; requests longer than
/// `request_timeout` get a 503.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let Assembled {
        router,
        document,
        roots,
    } = assemble();
    let document = Bytes::from(document.to_json().expect("the OpenAPI document serializes"));
    let roots: Arc<[(String, Family)]> = roots.into();
    let routed = router
        .layer(axum::Extension(Document(document)))
        .fallback(not_found)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            roots.clone(),
            in_family_shape,
        ))
        .layer(middleware::from_fn(metrics::track))
        // Outermost of the routed layers: it sees the route template, and the
        // final answer, shaped, timed out or not.
        .layer(middleware::from_fn(access::observe));
    // Layers of a router run after its routing; the rewrite must run before,
    // so it wraps the routed application as this router's only service.
    Router::new()
        .fallback_service(routed)
        .layer(middleware::from_fn_with_state(roots, rewrite_path))
}

/// Writes every error answer in the shape of the family its path belongs to.
async fn in_family_shape(
    State(roots): State<Arc<[(String, Family)]>>,
    request: Request,
    next: Next,
) -> Response {
    let family = edge::family_of(&roots, request.uri().path());
    error::in_family_shape(family, next.run(request).await).await
}

/// Rewrites the other spellings of a path to the routed one ([`edge::canonical_path`]).
async fn rewrite_path(
    State(roots): State<Arc<[(String, Family)]>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(path) = edge::canonical_path(&roots, request.uri().path()) {
        let asked = AskedPath(request.uri().path().to_owned());
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        if let Ok(uri) = Uri::builder().path_and_query(path_and_query).build() {
            *request.uri_mut() = uri;
            request.extensions_mut().insert(asked);
        }
    }
    next.run(request).await
}

/// Unknown routes: a 404 in the shape of the family their path belongs to.
async fn not_found(uri: Uri, asked: Option<axum::Extension<AskedPath>>) -> ApiError {
    let path = asked.map_or_else(|| uri.path().to_owned(), |asked| asked.0 .0);
    ApiError::not_found(format!("route {path}"))
}

/// tach's own endpoints: health, readiness, metrics, this document.
fn own_routes() -> Routes {
    Routes {
        family: Family::Orlo,
        table: vec![
            routes!(healthz),
            routes!(readyz),
            routes!(render_metrics),
            routes!(openapi_document),
        ],
        path_parameters: false,
        undocumented: Vec::new(),
    }
}

/// The OpenAPI document, serialized once (cloning shares the bytes).
#[derive(Clone)]
struct Document(Bytes);

/// This document: OpenAPI 3.1 of every route, generated from the route tables.
#[utoipa::path(get, path = "/openapi.json", tag = "tach",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
async fn openapi_document(
    axum::Extension(Document(document)): axum::Extension<Document>,
) -> Response {
    ([("content-type", "application/json")], document).into_response()
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "tach",
    responses((status = 200, description = "Serving", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// `{"status": …}` of `/readyz`, with the read pool's replication once the
/// schema is current.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready`, `waiting for migrations`, `database unavailable`, `replica
    /// lag over the bound` or `replica lag unknown`.
    status: String,
    /// `primary` or `replica`: what the read pool (TACH_QUERY_DATABASE_URL) is.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_pool: Option<&'static str>,
    /// A replica's lag in seconds: 0 while it streams and has replayed all
    /// it received, else the age of its last replayed commit. Absent on a
    /// primary, and when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    replica_lag_seconds: Option<f64>,
    /// WAL a replica received but has not replayed yet. Absent on a primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    replica_lag_bytes: Option<f64>,
    /// TACH_QUERY_MAX_REPLICA_LAG_SECS, with a replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_replica_lag_seconds: Option<u64>,
}

impl Readiness {
    fn status(status: &str) -> Readiness {
        Readiness {
            status: status.to_owned(),
            read_pool: None,
            replica_lag_seconds: None,
            replica_lag_bytes: None,
            max_replica_lag_seconds: None,
        }
    }

    /// The answer for a read pool of `replication`, with schema current.
    fn of(replication: Replication, max_lag: Duration) -> (StatusCode, Readiness) {
        let reason = replication.unready_reason(max_lag);
        let mut body = Readiness::status(reason.unwrap_or("ready"));
        match replication {
            Replication::Primary => body.read_pool = Some("primary"),
            Replication::Standby {
                lag_seconds,
                unreplayed_bytes,
            } => {
                body.read_pool = Some("replica");
                body.replica_lag_seconds = lag_seconds;
                body.replica_lag_bytes = Some(unreplayed_bytes);
                body.max_replica_lag_seconds = Some(max_lag.as_secs());
            }
        }
        let status = match reason {
            None => StatusCode::OK,
            Some(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, body)
    }
}

/// Readiness: the database answers, its schema is current and, when the read
/// pool is a standby, it trails its primary by at most
/// TACH_QUERY_MAX_REPLICA_LAG_SECS.
#[utoipa::path(get, path = "/readyz", tag = "tach", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "Not ready, and why", body = Readiness)))]
async fn readyz(State(state): State<AppState>) -> Response {
    let unavailable = |error: sqlx::Error| {
        tracing::warn!(error = %error, "readiness check failed");
        let body = Readiness::status("database unavailable");
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    };
    match tach_schema::database::schema_is_current(&state.pool).await {
        Ok(true) => {}
        Ok(false) => {
            let body = Readiness::status("waiting for migrations");
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
        Err(error) => return unavailable(error),
    }
    let replication = match crate::replica::measure(&state.pool).await {
        Ok(replication) => replication,
        Err(error) => return unavailable(error),
    };
    metrics::replication(&replication);
    let (status, body) = Readiness::of(replication, state.max_replica_lag);
    (status, Json(body)).into_response()
}

/// Prometheus metrics of this process.
#[utoipa::path(get, path = "/metrics", tag = "tach", responses(
    (status = 200, description = "The text exposition format", body = String,
     content_type = "text/plain; version=0.0.4")))]
async fn render_metrics() -> Response {
    let body = tach_schema::prometheus::install()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every routed path is documented and every documented path routed:
    /// the router and the document come from the same tables.
    #[test]
    fn the_document_is_openapi_3_1_and_covers_every_routed_path() {
        let Assembled { document, .. } = assemble();
        let json: serde_json::Value = serde_json::from_str(&document.to_json().unwrap()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let documented: Vec<String> = json["paths"].as_object().unwrap().keys().cloned().collect();
        let mut routed = Vec::new();
        for table in route_tables() {
            for (_, paths, _) in &table.table {
                routed.extend(paths.paths.keys().cloned());
            }
        }
        routed.sort();
        let mut sorted = documented.clone();
        sorted.sort();
        assert_eq!(sorted, routed);
        for path in [
            "/stacky/summary",
            "/stacky/report/{report_id}",
            "/crashes/signatures",
            "/search/crashes",
            "/releases/{release}/packages/{package}/stop",
            "/info/{field}/{name}",
            "/stats/{field}",
            "/healthz",
            "/token",
        ] {
            assert!(documented.iter().any(|known| known == path), "{path}");
        }
        let schemes = &json["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["basic"]["scheme"], "basic");
        assert_eq!(schemes["x_auth_token"]["in"], "header");
        assert_eq!(schemes["x_auth_token"]["name"], "X-Auth-Token");
        assert_eq!(
            json["paths"]["/releases"]["post"]["security"],
            serde_json::json!([{}, {"bearer": []}, {"x_auth_token": []}])
        );
        assert_eq!(
            json["paths"]["/token"]["get"]["security"],
            serde_json::json!([{"basic": []}])
        );
        let mut references = Vec::new();
        collect_references(&json, &mut references);
        assert!(!references.is_empty());
        for reference in references {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or(&reference);
            assert!(
                json["components"]["schemas"].get(name).is_some(),
                "{reference} does not resolve"
            );
        }
    }

    fn collect_references(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                if let Some(serde_json::Value::String(reference)) = fields.get("$ref") {
                    found.push(reference.clone());
                }
                fields
                    .values()
                    .for_each(|field| collect_references(field, found));
            }
            serde_json::Value::Array(items) => items
                .iter()
                .for_each(|item| collect_references(item, found)),
            _ => {}
        }
    }
}

//! The HTTP edge every family shares: route tables, the spellings of a path
//! that are rewritten to the routed one, and which family a path belongs to.
//!
//! Each family lists its routes once, as utoipa-axum `routes!` entries (the
//! handler and its `#[utoipa::path]` operation). [`Routes`] builds from that
//! one list the axum router, the family's OpenAPI paths and the roots its
//! paths start with, which decide the shape of an error for any path,
//! routed or not.

use axum::routing::MethodRouter;
use axum::Router;
use utoipa::openapi::path::Paths;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa_axum::router::UtoipaMethodRouter;

use crate::error::Family;
use crate::state::AppState;

/// One family's routes, each listed once.
pub struct Routes {
    /// Whose shapes the answers take.
    pub family: Family,
    /// The handlers and their operations.
    pub table: Vec<UtoipaMethodRouter<AppState>>,
    /// Whether each path also takes Socorro's `/<name>/<value>/…` parameters
    /// after it (routed as `<path>/{*parameters}`, which OpenAPI cannot say).
    pub path_parameters: bool,
    /// Routes OpenAPI cannot describe (a catch-all of Socorro's path form),
    /// routed but not documented.
    pub undocumented: Vec<(&'static str, MethodRouter<AppState>)>,
}

/// What a family's table builds.
pub struct Built {
    /// The axum routes.
    pub router: Router<AppState>,
    /// The documented paths.
    pub paths: Paths,
    /// The schemas the operations name.
    pub schemas: Vec<(String, RefOr<Schema>)>,
    /// The first segment of every path (`/stacky`, `/crashes`, …).
    pub roots: Vec<(String, Family)>,
}

impl Routes {
    /// Builds the router, the OpenAPI paths and the roots from the table.
    pub fn build(self) -> Built {
        let mut router = Router::new();
        let mut paths = Paths::new();
        let mut schemas = Vec::new();
        let mut roots: Vec<(String, Family)> = Vec::new();
        for (route_schemas, route_paths, method_router) in self.table {
            for path in route_paths.paths.keys() {
                router = router.route(path, method_router.clone());
                if self.path_parameters {
                    router =
                        router.route(&format!("{path}/{{*parameters}}"), method_router.clone());
                }
                let root = root_of(path).to_owned();
                if !roots.iter().any(|(known, _)| *known == root) {
                    roots.push((root, self.family));
                }
            }
            paths.merge(route_paths);
            schemas.extend(route_schemas);
        }
        for (path, method_router) in self.undocumented {
            router = router.route(path, method_router);
        }
        Built {
            router,
            paths,
            schemas,
            roots,
        }
    }
}

/// The first segment of `path`, with its slash: `/crashes` of `/crashes/comments`.
pub fn root_of(path: &str) -> &str {
    let end = path[1.min(path.len())..]
        .find('/')
        .map_or(path.len(), |slash| slash + 1);
    &path[..end]
}

/// The family a path belongs to, by its first segment; tach's own endpoints
/// and unknown paths take the plain (Orlo) shape.
pub fn family_of(roots: &[(String, Family)], path: &str) -> Family {
    let root = root_of(path);
    roots
        .iter()
        .find(|(known, _)| known == root)
        .map_or(Family::Orlo, |(_, family)| *family)
}

/// The path as the client wrote it, when it was rewritten to its routed
/// spelling ([`canonical_path`]): a request extension.
#[derive(Debug, Clone)]
pub struct AskedPath(pub String);

/// The routed spelling of `path`, when it is written another way the old
/// clients use (rewritten, never redirected: orloclient and the stacky CLI
/// do not follow redirects):
/// - a trailing slash is dropped (`/stacky/summary/`);
/// - Socorro's `/bpapi/` prefix is dropped before a Socorro path;
/// - the stacky seed's `/stacky/usages/…` is `/stacky/usage/…`;
/// - Sponge's singular `/release…` is Orlo's `/releases…`;
/// - Socorro's bare `/search` is `/search/signatures`.
pub fn canonical_path(roots: &[(String, Family)], path: &str) -> Option<String> {
    let mut canonical = path;
    while canonical.len() > 1 && canonical.ends_with('/') {
        canonical = &canonical[..canonical.len() - 1];
    }
    if let Some(rest) = canonical.strip_prefix("/bpapi") {
        if rest.starts_with('/') && family_of(roots, rest) == Family::Socorro {
            canonical = rest;
        }
    }
    let rewritten = if let Some(rest) = canonical.strip_prefix("/stacky/usages/") {
        format!("/stacky/usage/{rest}")
    } else if canonical == "/release" || canonical.starts_with("/release/") {
        format!("/releases{}", &canonical["/release".len()..])
    } else if canonical == "/search" {
        "/search/signatures".to_owned()
    } else {
        canonical.to_owned()
    };
    (rewritten != path).then_some(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Vec<(String, Family)> {
        vec![
            ("/stacky".into(), Family::Stacky),
            ("/crashes".into(), Family::Socorro),
            ("/search".into(), Family::Socorro),
            ("/releases".into(), Family::Orlo),
        ]
    }

    #[test]
    fn a_path_belongs_to_the_family_of_its_first_segment() {
        let roots = roots();
        assert_eq!(root_of("/crashes/comments"), "/crashes");
        assert_eq!(root_of("/ping"), "/ping");
        assert_eq!(root_of("/"), "/");
        assert_eq!(family_of(&roots, "/stacky/nope"), Family::Stacky);
        assert_eq!(family_of(&roots, "/crashes"), Family::Socorro);
        assert_eq!(family_of(&roots, "/crashesx/y"), Family::Orlo);
        assert_eq!(family_of(&roots, "/metrics"), Family::Orlo);
    }

    #[test]
    fn old_spellings_are_rewritten_to_the_routed_path() {
        let roots = roots();
        let canonical = |path: &str| canonical_path(&roots, path);
        assert_eq!(
            canonical("/stacky/summary/").as_deref(),
            Some("/stacky/summary")
        );
        assert_eq!(canonical("/stacky/summary"), None);
        assert_eq!(canonical("/"), None);
        assert_eq!(
            canonical("/bpapi/crashes/signatures/product/Firefox/").as_deref(),
            Some("/crashes/signatures/product/Firefox")
        );
        assert_eq!(canonical("/bpapi/stacky/summary"), None);
        assert_eq!(canonical("/bpapi"), None);
        assert_eq!(
            canonical("/stacky/usages/launches/").as_deref(),
            Some("/stacky/usage/launches")
        );
        assert_eq!(canonical("/release").as_deref(), Some("/releases"));
        assert_eq!(
            canonical("/release/abc/packages").as_deref(),
            Some("/releases/abc/packages")
        );
        assert_eq!(canonical("/releasesx"), None);
        assert_eq!(canonical("/search/").as_deref(), Some("/search/signatures"));
        assert_eq!(
            canonical("/bpapi/search").as_deref(),
            Some("/search/signatures")
        );
    }
}

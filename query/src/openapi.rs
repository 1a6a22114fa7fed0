//! The OpenAPI 3.1 document, generated from the route tables: every
//! operation's parameters, bodies and answers come from its handler's
//! `#[utoipa::path]`; the error answers of its family, the security schemes
//! (bearer, `X-Auth-Token`, HTTP Basic) and the error schemas are added
//! here, once for all.

use utoipa::openapi::path::{HttpMethod, Operation, Paths};
use utoipa::openapi::response::{ResponseBuilder, Responses};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr,
};
use utoipa::ToSchema;

use crate::error::{shapes, Family};

/// The name of the bearer scheme release writes declare.
pub const BEARER: &str = "bearer";
/// The name of Orlo's `X-Auth-Token` scheme, the other form of the same tokens.
pub const X_AUTH_TOKEN: &str = "x_auth_token";
/// The name of the HTTP Basic scheme of `GET /token`.
pub const BASIC: &str = "basic";

const TOKENS: &str = "TACH_API_TOKEN, or a token of GET /token (signed with TACH_TOKEN_SECRET, \
    not expired), for release writes, which need one when either setting is set; \
    TACH_READ_TOKEN for Socorro's protected crash fields (email, url, user_comments), left \
    out of answers without it when it is set";

/// The document over the families' paths and the schemas they name.
pub fn document(families: Vec<(Family, Paths)>, schemas: Vec<(String, RefOr<Schema>)>) -> OpenApi {
    let mut paths = Paths::new();
    for (family, mut family_paths) in families {
        for item in family_paths.paths.values_mut() {
            for (method, operation) in operations(item) {
                add_error_responses(family, method, operation);
            }
        }
        paths.merge(family_paths);
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .schema_from::<shapes::StackyError>()
        .schema_from::<shapes::SocorroError>()
        .schema_from::<shapes::SocorroErrorDetail>()
        .schema_from::<shapes::OrloError>()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(TOKENS))
                    .build(),
            ),
        )
        .security_scheme(
            X_AUTH_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token".to_owned(),
                format!("Orlo's header for the same tokens: {TOKENS}"),
            ))),
        )
        .security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A user of TACH_HTPASSWD_FILE and its password, for GET /token",
                    ))
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("tach-query")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

const DESCRIPTION: &str = "StackTach's stacky/* API, the Socorro middleware API and the \
Observatory/Orlo/Sponge release API, answered from tach's tables. Every path also answers \
with a trailing slash. Socorro paths also answer under /bpapi/ and take their parameters in \
the path form /<service>/<name>/<value>/… as well as in the query string; /stacky/usages/… \
is /stacky/usage/…, and Sponge's singular /release… is /releases…. Errors take each \
family's shape: stacky [[\"Error\", \"Message\"], [<title>, <why>]], Socorro \
{\"error\": {\"message\", \"parameter\"}}, the release API and tach's own endpoints \
{\"message\"}.";

fn operations(
    item: &mut utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
}

/// The statuses every operation of a family may answer with an error, and why.
fn error_statuses(method: &HttpMethod, secured: bool) -> Vec<(&'static str, &'static str)> {
    let mut statuses =
        vec![
        ("400", "A parameter or the path is malformed; the message says which and why"),
        ("404", "What the request names does not exist"),
        ("500", "A fault of tach-query (logged)"),
        (
            "503",
            "The database is unavailable, or the request took longer than TACH_QUERY_TIMEOUT_SECS",
        ),
    ];
    if matches!(method, HttpMethod::Post) {
        statuses.push(("413", "The request body is larger than the limit"));
    }
    if secured && matches!(method, HttpMethod::Post) {
        statuses.push((
            "401",
            "TACH_API_TOKEN or TACH_TOKEN_SECRET is set, and the request presents no valid \
             token (bearer or X-Auth-Token; a signed one expired or changed)",
        ));
    }
    statuses
}

fn add_error_responses(family: Family, method: HttpMethod, operation: &mut Operation) {
    let schema = match family {
        Family::Stacky => shapes::StackyError::name(),
        Family::Socorro => shapes::SocorroError::name(),
        Family::Orlo => shapes::OrloError::name(),
    };
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let responses: &mut Responses = &mut operation.responses;
    for (status, why) in error_statuses(&method, secured) {
        if responses.responses.contains_key(status) {
            continue;
        }
        let response = ResponseBuilder::new()
            .description(why)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(schema.clone())))
                    .build(),
            )
            .build();
        responses
            .responses
            .insert(status.to_owned(), response.into());
    }
}

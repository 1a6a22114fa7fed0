//! The `_context_*` members oslo.messaging appends to nova's messages (its
//! serialized RequestContext), in the two generations the samples show: the
//! Icehouse-era keys of samples/nova-legacy and oslo.messaging 18's of
//! samples/oslo-messaging. Built once per request, as a map for v1 bodies
//! or as text for v2 bodies; the text is formatted directly because every
//! value is the generator's own plain ASCII.

use serde_json::json;

use super::envelope::{Context, Driver};
use super::instance::Tenant;
use super::payload::object_of;

/// What varies between requests' contexts.
pub struct Fields<'a> {
    /// `req-<uuid>`.
    pub id: &'a str,
    /// The instance's tenant and user.
    pub tenant: &'a Tenant,
    /// The API token (legacy contexts carried it).
    pub auth_token: &'a str,
    /// The client's address.
    pub remote_address: &'a str,
    /// When the request arrived, nova's `str(datetime)`.
    pub timestamp: &'a str,
}

/// The Icehouse-era context of the captured sequences.
pub fn legacy(request: &Fields<'_>, driver: Driver) -> Context {
    let Fields {
        id,
        tenant,
        auth_token,
        remote_address,
        timestamp,
    } = request;
    let (project, user) = (&tenant.id, &tenant.user_id);
    if driver == Driver::V1 {
        return Context::Members(object_of(json!({
        "_context_auth_token": auth_token,
        "_context_is_admin": false,
        "_context_project_id": project,
        "_context_project_name": project,
        "_context_read_deleted": "no",
        "_context_remote_address": remote_address,
        "_context_request_id": id,
        "_context_roles": ["member", "compute:default", "object-store:default"],
        "_context_tenant": project,
        "_context_timestamp": timestamp,
        "_context_user": user,
        "_context_user_id": user,
        "_context_user_name": user,
        })));
    }
    Context::Text(format!(
        concat!(
            r#""_context_auth_token":"{auth_token}","_context_is_admin":false,"#,
            r#""_context_project_id":"{project}","_context_project_name":"{project}","#,
            r#""_context_read_deleted":"no","_context_remote_address":"{remote_address}","#,
            r#""_context_request_id":"{id}","#,
            r#""_context_roles":["member","compute:default","object-store:default"],"#,
            r#""_context_tenant":"{project}","_context_timestamp":"{timestamp}","#,
            r#""_context_user":"{user}","_context_user_id":"{user}","_context_user_name":"{user}""#,
        ),
        auth_token = auth_token,
        project = project,
        remote_address = remote_address,
        id = id,
        timestamp = timestamp,
        user = user,
    ))
}

/// The context oslo.messaging 18 writes (versioned nova's era).
pub fn modern(request: &Fields<'_>, driver: Driver) -> Context {
    let (id, project, user) = (request.id, &request.tenant.id, &request.tenant.user_id);
    if driver == Driver::V1 {
        return Context::Members(object_of(json!({
        "_context_user": user,
        "_context_user_id": user,
        "_context_project_id": project,
        "_context_system_scope": null,
        "_context_project": project,
        "_context_domain": null,
        "_context_user_domain": null,
        "_context_project_domain": null,
        "_context_is_admin": false,
        "_context_read_only": false,
        "_context_show_deleted": false,
        "_context_auth_token": null,
        "_context_request_id": id,
        "_context_global_request_id": null,
        "_context_resource_uuid": null,
        "_context_roles": ["member", "reader"],
        "_context_user_identity": format!("{user} {project} - - -"),
        "_context_is_admin_project": true,
        })));
    }
    Context::Text(format!(
        concat!(
            r#""_context_user":"{user}","_context_user_id":"{user}","#,
            r#""_context_project_id":"{project}","_context_system_scope":null,"#,
            r#""_context_project":"{project}","_context_domain":null,"#,
            r#""_context_user_domain":null,"_context_project_domain":null,"#,
            r#""_context_is_admin":false,"_context_read_only":false,"#,
            r#""_context_show_deleted":false,"_context_auth_token":null,"#,
            r#""_context_request_id":"{id}","_context_global_request_id":null,"#,
            r#""_context_resource_uuid":null,"_context_roles":["member","reader"],"#,
            r#""_context_user_identity":"{user} {project} - - -","#,
            r#""_context_is_admin_project":true"#,
        ),
        user = user,
        project = project,
        id = id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::gen::payload::members_text;

    #[test]
    fn the_text_is_the_map_serialized() {
        let tenant = Tenant {
            id: "210397".into(),
            user_id: "d608a0a8ed7551a2998aab265d5ff6f8".into(),
        };
        let request = Fields {
            id: "req-cebe3671-b96a-54f8-9c82-780906f80aed",
            tenant: &tenant,
            auth_token: "c028e240aafb5fb0a2ac728ff8e0e83a",
            remote_address: "198.51.100.11",
            timestamp: "2015-01-21 23:59:59.805827",
        };
        for build in [legacy, modern] {
            let (Context::Members(map), Context::Text(text)) =
                (build(&request, Driver::V1), build(&request, Driver::V2))
            else {
                panic!("each driver gets its own form");
            };
            assert_eq!(text, members_text(&Value::Object(map)));
        }
    }
}

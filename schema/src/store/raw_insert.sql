INSERT INTO raw_events (
    id, deployment_id, message_id, family, exchange, routing_key, is_error, event, "when",
    publisher, service, host, instance, request_id, tenant,
    state, old_state, old_task, task,
    image_type, image_uuid, image_status, image_owner, image_size, body
)
SELECT
    id, $1, message_id, family, exchange, routing_key, is_error, event, "when",
    publisher, service, host, instance, request_id, tenant,
    state, old_state, old_task, task,
    image_type, image_uuid, image_status, image_owner, image_size, body::json
FROM unnest(
    $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::text[],
    $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
    $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::int[], $21::text[],
    $22::text[], $23::text[], $24::bigint[], $25::text[]
) AS batch (
    id, message_id, family, exchange, routing_key, is_error, event, "when",
    publisher, service, host, instance, request_id, tenant,
    state, old_state, old_task, task,
    image_type, image_uuid, image_status, image_owner, image_size, body
)

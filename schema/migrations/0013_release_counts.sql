-- Orlo's /info and /stats without a platform or time filter: release counts
-- per group, kept as running totals so that they read one row per group
-- instead of every release (they grew with the releases stored). A release
-- re-derived is subtracted as it was and added as it is, in the batch's
-- transaction (DESIGN.md step 5), so the totals stay equal to counting the
-- `releases` table. Groups: `global`, a release's `user` and `team`, each of
-- its platforms (as often as listed), each distinct name of its packages.
CREATE TABLE release_counts (
    kind                text   NOT NULL,  -- global, user, team, platform, package
    key                 text   NOT NULL,
    releases            bigint NOT NULL,  -- every release of the group
    normal_successful   bigint NOT NULL,  -- SUCCESSFUL, no rollback package
    normal_failed       bigint NOT NULL,
    rollback_successful bigint NOT NULL,
    rollback_failed     bigint NOT NULL,
    PRIMARY KEY (kind, key)
);

INSERT INTO release_counts
SELECT g.kind, g.key, count(*),
       count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND NOT r.rollback),
       count(*) FILTER (WHERE r.status = 'FAILED' AND NOT r.rollback),
       count(*) FILTER (WHERE r.status = 'SUCCESSFUL' AND r.rollback),
       count(*) FILTER (WHERE r.status = 'FAILED' AND r.rollback)
FROM releases r CROSS JOIN LATERAL (
         SELECT 'global', 'global'
         UNION ALL SELECT 'user', r."user" WHERE r."user" IS NOT NULL
         UNION ALL SELECT 'team', r.team WHERE r.team IS NOT NULL
         UNION ALL SELECT 'platform', jsonb_array_elements_text(r.platforms)
         UNION ALL SELECT DISTINCT 'package', p.name FROM release_packages p
                   WHERE p.release_id = r.id AND p.name IS NOT NULL
     ) AS g (kind, key)
WHERE g.key IS NOT NULL
GROUP BY g.kind, g.key;

"""The deadline sweep's statements: who is told, resolved in SQL, and what is written, in one statement each.

A province's day owes tens of thousands of alerts. Building each alert and its recipients in Python cost minutes
at a million cases, so the sweep runs set-based statements instead:

- ``alerts(clocks)``: the open deadlines that earned an alert not recorded yet, their recipients, the
  ``deadline_alerts`` rows (``ON CONFLICT DO NOTHING``), and one notification per recipient and kind for the day,
  which lists the alerts (``ON CONFLICT DO UPDATE`` adds the alerts of a later sweep of the same day to it). The
  day's first sweep reads every open clock in the horizon (``OPEN_STAFF``); a later one the same day only those
  opened or moved since the previous one (``SET_SINCE``): what a clock owes depends on its due date and the day
  alone;
- ``DIGESTS``: one digest per person of what they owe that is overdue or due soon, and of their unread work;
- ``CLOSE_WINDOWS``: the petitioner's expired windows to apply for re-review closed and the rollups moved. The
  cases are not touched: the tracking page reads a window past its last day as expired by its date, and a kept
  page's key names the day, so the page is the same before and after.

Who is told mirrors the rule functions of ``portal.sweeps`` (``owners``, ``leaders``, ``supervisors``), which stay
the definition: ``tests/portal/test_sweep_recipients.py`` holds the statements equal to them on varied data.
Statements take their parameters by name; arrays are passed whole (one plan whatever the day owes).
"""

from __future__ import annotations

# Active staff of every bureau, grouped the ways the rules look them up. Small: a few thousand people.
PEOPLE = """
staff AS (
    SELECT s.tenant_id, s.id, s.roles, s.unit_id, s.oversees_unit_ids, s.display_name,
           coalesce(u.kind = 'petition_office', false) AS in_office
    FROM staff_users s
    LEFT JOIN units u ON u.tenant_id = s.tenant_id AND u.id = s.unit_id
    WHERE s.active
),
bureau_people AS (
    SELECT tenant_id AS bureau_id,
           array_agg(id ORDER BY id) FILTER (WHERE 'petitions_leader' = ANY (roles)) AS petitions_leaders,
           array_agg(id ORDER BY id) FILTER (WHERE 'principal_leader' = ANY (roles)) AS principal_leaders,
           array_agg(id ORDER BY id) FILTER (WHERE in_office) AS office,
           array_agg(id ORDER BY id) FILTER (WHERE roles && '{petition_office_head,petitions_leader}') AS heads
    FROM staff
    GROUP BY tenant_id
),
unit_people AS MATERIALIZED (
    SELECT tenant_id AS bureau_id, unit_id, array_agg(id ORDER BY id) AS ids
    FROM staff
    WHERE unit_id IS NOT NULL
    GROUP BY tenant_id, unit_id
),
overseers AS MATERIALIZED (
    SELECT s.tenant_id AS bureau_id, o.unit_id, array_agg(DISTINCT s.id ORDER BY s.id) AS ids
    FROM staff s
    CROSS JOIN LATERAL unnest(s.oversees_unit_ids) AS o (unit_id)
    WHERE 'business_leader' = ANY (s.roles)
    GROUP BY s.tenant_id, o.unit_id
)"""


def owned(source: str) -> str:
    """Rows of ``source`` (a deadline with ``bureau_id``, its owing bureau, and its case's ``lead_unit_id``) with
    ``owner_rule``, ``owner_ids`` and ``owner_label``: ``portal.sweeps.owners``, rule by rule, in its order."""
    return f"""
    SELECT q.*,
           CASE q.owner_rule
               WHEN 'user' THEN ARRAY[q.owner_user_id]
               WHEN 'petitions_leader' THEN q.petitions_leaders
               WHEN 'business_leader' THEN q.overseer_ids
               WHEN 'unit' THEN q.unit_ids
               WHEN 'office' THEN q.office
               ELSE coalesce(q.petitions_leaders, '{{}}')
           END AS owner_ids,
           CASE q.owner_rule
               WHEN 'user' THEN jsonb_build_array(q.owner_name, q.owner_name)
               WHEN 'unit' THEN jsonb_build_array(coalesce(q.unit_name, ''), coalesce(q.unit_name, ''))
               ELSE CAST(:owner_labels AS jsonb) -> q.owner_rule
           END AS owner_label
    FROM (
        SELECT r.*, bp.petitions_leaders, bp.principal_leaders, bp.office,
               ou.id AS owner_user_id, ou.display_name AS owner_name,
               ov.ids AS overseer_ids, up.ids AS unit_ids, un.name AS unit_name,
               CASE
                   WHEN ou.id IS NOT NULL THEN 'user'
                   WHEN r.owed_by = 'petitions_leader' AND bp.petitions_leaders IS NOT NULL THEN 'petitions_leader'
                   WHEN r.owed_by = 'business_leader' AND ov.ids IS NOT NULL THEN 'business_leader'
                   WHEN up.ids IS NOT NULL THEN 'unit'
                   WHEN bp.office IS NOT NULL THEN 'office'
                   ELSE 'fallback'
               END AS owner_rule
        FROM {source} r
        LEFT JOIN staff ou ON ou.tenant_id = r.bureau_id AND ou.id = r.owed_user_id
        LEFT JOIN bureau_people bp ON bp.bureau_id = r.bureau_id
        LEFT JOIN overseers ov ON ov.bureau_id = r.bureau_id AND ov.unit_id = r.lead_unit_id
        LEFT JOIN unit_people up ON up.bureau_id = r.bureau_id AND up.unit_id = r.owed_unit_id
        LEFT JOIN units un ON un.tenant_id = r.bureau_id AND un.id = r.owed_unit_id
    ) q"""


# The open clocks staff owe (``ix_deadlines_sweep``); those opened or moved since ``:since``
# (``ix_deadlines_due_set_at``): all that a sweep that runs again the same day needs to read.
OPEN_STAFF = "d.closed_at IS NULL AND d.owed_by <> 'petitioner'"
SET_SINCE = f"{OPEN_STAFF} AND d.due_set_at >= :since"


def _item(r: str, case_tenant_id: str = "tenant_id") -> str:
    """What a digest or an alert says of one deadline of the row ``r`` (``messages.digest_item_text`` renders it),
    but its case number, which ``_NUMBERED`` adds to the lines listed only (a primary-key look-up each)."""
    return f"""jsonb_build_object(
        'case_tenant_id', {r}.{case_tenant_id}, 'case_id', {r}.case_id, 'step', {r}.step, 'due_on', {r}.due_on,
        'days', {r}.days
    ) || CASE WHEN {r}.material_request_id IS NOT NULL AND {r}.bureau_id <> {r}.{case_tenant_id}
              THEN jsonb_build_object('request_id', {r}.material_request_id) ELSE '{{}}' END"""


# The lines of the array ``{items}`` (JSON objects of ``_item``), each with its case's number, as a JSON array.
_NUMBERED = """(SELECT jsonb_agg(i.item || jsonb_build_object('case_number', (
        SELECT c.number FROM cases c
        WHERE c.tenant_id = (i.item ->> 'case_tenant_id')::int AND c.id = (i.item ->> 'case_id')::bigint
    )) ORDER BY i.place)
    FROM unnest({items}) WITH ORDINALITY AS i (item, place))"""

# The lead unit of a business leader's step, the one rule that needs it (looked up for those clocks only).
_LEAD_UNIT = """CASE WHEN d.owed_by = 'business_leader'
           THEN (SELECT c.lead_unit_id FROM cases c WHERE c.tenant_id = d.tenant_id AND c.id = d.case_id) END"""


# The due dates that owe an alert today, with the alert (``:owed_*``: kind, threshold, working days left).
_OWED = """owed AS (
    SELECT * FROM unnest(CAST(:owed_due AS date[]), CAST(:owed_kind AS text[]), CAST(:owed_threshold AS int[]),
                         CAST(:owed_days AS int[])) AS o (due_on, kind, threshold, days)
)"""

# The clocks (``{clocks}``: ``OPEN_STAFF`` or ``SET_SINCE``) in the horizon owing an alert not recorded yet.
_UNRECORDED = """{clocks} AND d.due_on <= :horizon
      AND NOT EXISTS (
          SELECT FROM deadline_alerts a
          WHERE a.tenant_id = d.tenant_id AND a.deadline_id = d.id AND a.kind = x.kind
            AND a.threshold = x.threshold AND a.due_on = d.due_on
      )"""


def _pending_alerts(clocks: str) -> str:
    """The alerts owed and not recorded yet, with their recipients, the bureau they belong to and the line that
    names them (the cases are not read here: a clock's line names its case by id until it is listed)."""
    return f"""
{_OWED},
pending AS (
    SELECT d.tenant_id, d.id AS deadline_id, d.case_id, d.step::text AS step, d.due_on, d.owed_by,
           d.owed_user_id, d.owed_unit_id, d.material_request_id,
           coalesce(d.owed_bureau_id, d.tenant_id) AS bureau_id, x.kind, x.threshold, x.days,
           {_LEAD_UNIT} AS lead_unit_id
    FROM deadlines d
    JOIN owed x ON x.due_on = d.due_on
    WHERE {_UNRECORDED.format(clocks=clocks)}
),
owned AS ({owned("pending")}),
told AS (
    SELECT o.tenant_id, o.deadline_id, o.case_id, o.kind, o.threshold, o.due_on,
           CASE WHEN o.kind = 'supervision' THEN b.parent_id ELSE o.bureau_id END AS recipient_tenant_id,
           CASE o.kind
               WHEN 'escalation' THEN
                   CASE WHEN EXISTS (SELECT FROM unnest(o.petitions_leaders) x WHERE x <> ALL (o.owner_ids))
                        THEN ARRAY(SELECT x FROM unnest(o.petitions_leaders) x WHERE x <> ALL (o.owner_ids) ORDER BY x)
                        ELSE ARRAY(SELECT x FROM unnest(o.principal_leaders) x WHERE x <> ALL (o.owner_ids) ORDER BY x)
                   END
               WHEN 'supervision' THEN
                   CASE WHEN b.parent_id IS NULL THEN '{{}}' ELSE coalesce(pp.heads, pp.office, '{{}}') END
               ELSE o.owner_ids
           END AS recipients,
           {_item("o")}
           || CASE WHEN o.kind IN ('escalation', 'supervision')
                   THEN jsonb_build_object('owner', o.owner_label) ELSE '{{}}' END
           || CASE WHEN o.kind = 'supervision'
                   THEN jsonb_build_object('bureau', jsonb_build_array(coalesce(b.name, ''), coalesce(b.name, '')))
                   ELSE '{{}}' END AS item
    FROM owned o
    LEFT JOIN bureaus b ON b.id = o.bureau_id
    LEFT JOIN bureau_people pp ON pp.bureau_id = b.parent_id
)"""


def alerts(clocks: str) -> str:
    """Record the alerts owed today and tell their recipients: one notification per person, kind and day, listing
    the first ``:max_items`` alerts (by due date, oldest case first) and how many more; a later sweep of the same day
    adds its alerts to it and marks it unread again. Returns the alerts recorded by kind and the notifications
    written."""
    return f"""
WITH {PEOPLE},
{_pending_alerts(clocks)},
alerts AS (
    INSERT INTO deadline_alerts (tenant_id, deadline_id, case_id, kind, threshold, due_on, fired_on, recipient_ids)
    SELECT tenant_id, deadline_id, case_id, kind, threshold, due_on, :today, recipients
    FROM told
    WHERE cardinality(recipients) > 0
    ORDER BY tenant_id, deadline_id, kind, threshold
    ON CONFLICT ON CONSTRAINT uq_deadline_alerts_tenant_id_deadline_id_kind_threshold_due_on DO NOTHING
    RETURNING tenant_id, deadline_id, kind, threshold
),
told_each AS (
    SELECT t.recipient_tenant_id, r.user_id, t.kind, count(*) AS total,
           (array_agg(t.item ORDER BY t.due_on, t.case_id, t.deadline_id))[1:CAST(:max_items AS int)] AS items
    FROM told t
    JOIN alerts a ON a.tenant_id = t.tenant_id AND a.deadline_id = t.deadline_id AND a.kind = t.kind
                 AND a.threshold = t.threshold
    CROSS JOIN LATERAL unnest(t.recipients) AS r (user_id)
    GROUP BY t.recipient_tenant_id, r.user_id, t.kind
),
notices AS (
    INSERT INTO staff_notifications AS n (tenant_id, user_id, kind, params, dedupe_key)
    SELECT e.recipient_tenant_id, e.user_id, e.kind,
           jsonb_build_object(
               'date', CAST(:day AS text), 'count', e.total, 'items', {_NUMBERED.format(items="e.items")},
               'more', greatest(e.total - :max_items, 0)
           ),
           e.kind || ':' || CAST(:day AS text)
    FROM told_each e
    ORDER BY e.recipient_tenant_id, e.user_id, e.kind
    ON CONFLICT ON CONSTRAINT uq_staff_notifications_tenant_id_user_id_dedupe_key DO UPDATE SET
        params = jsonb_build_object(
            'date', n.params -> 'date',
            'count', (n.params ->> 'count')::int + (excluded.params ->> 'count')::int,
            'items', jsonb_path_query_array((n.params -> 'items') || (excluded.params -> 'items'),
                                            CAST(:items_path AS jsonpath)),
            'more', greatest((n.params ->> 'count')::int + (excluded.params ->> 'count')::int - :max_items, 0)
        ),
        read_at = NULL
    RETURNING kind
)
SELECT (SELECT coalesce(jsonb_object_agg(kind, n), '{{}}')
        FROM (SELECT kind, count(*) AS n FROM alerts GROUP BY kind) k),
       (SELECT count(*) FROM notices)"""


def pending_alerts_count(clocks: str) -> str:
    """The same read, counted and written nowhere: what ``bench/run.py`` explains."""
    return f"WITH {PEOPLE},\n{_pending_alerts(clocks)}\nSELECT count(*) FROM told"


# One digest per person: the deadlines they owe that are overdue or due within the digest's horizon (``:due``,
# ``:days``), and their unread work whose own time limit is not among those (``:work_kind``/``:work_step`` pair a
# work notification with the steps whose deadline lists it already). The first ``:max_items`` entries by due date
# then oldest case first; ``more``, ``overdue`` and ``waiting`` counted as ``send_digests`` always did.
DIGESTS = f"""
WITH {PEOPLE},
dates AS (SELECT * FROM unnest(CAST(:due AS date[]), CAST(:days AS int[])) AS x (due_on, days)),
open AS (
    SELECT d.tenant_id, d.id AS deadline_id, d.case_id, d.step::text AS step, d.due_on, d.owed_by,
           d.owed_user_id, d.owed_unit_id, d.material_request_id,
           coalesce(d.owed_bureau_id, d.tenant_id) AS bureau_id, x.days, {_LEAD_UNIT} AS lead_unit_id
    FROM deadlines d
    JOIN dates x ON x.due_on = d.due_on
    WHERE {OPEN_STAFF} AND d.due_on <= :horizon
),
owned AS ({owned("open")}),
owed AS (
    SELECT o.bureau_id AS tenant_id, r.user_id, o.tenant_id AS case_tenant_id, o.case_id, o.step,
           o.due_on::text AS sort_due, 0 AS source, o.tenant_id AS seq_a,
           NULL::timestamptz AS seq_at, o.deadline_id AS seq_b, o.due_on < :today AS overdue, NULL::jsonb AS item,
           o.due_on, o.days, o.material_request_id, o.bureau_id
    FROM owned o
    CROSS JOIN LATERAL unnest(o.owner_ids) AS r (user_id)
),
work_steps AS (SELECT * FROM unnest(CAST(:work_kind AS text[]), CAST(:work_step AS text[])) AS w (kind, step)),
waiting AS (
    SELECT DISTINCT ON (n.tenant_id, n.user_id, n.case_tenant_id, n.case_id, n.kind)
           n.tenant_id, n.user_id, n.case_tenant_id, n.case_id, NULL::text AS step,
           coalesce(n.params ->> 'due_on', '') AS sort_due, 1 AS source,
           0 AS seq_a, n.created_at AS seq_at, n.id AS seq_b, false AS overdue,
           jsonb_build_object(
               'case_tenant_id', n.case_tenant_id, 'case_id', n.case_id,
               'case_number', coalesce(n.params -> 'case_number', '""'), 'waiting', n.kind
           )
           || (SELECT coalesce(jsonb_object_agg(p.key, p.value), '{{}}') FROM jsonb_each(n.params) p
               WHERE p.key IN ('by', 'days', 'bureau', 'due_on', 'returned', 'reason'))
           || CASE WHEN coalesce(n.params ->> 'request_id', '0') NOT IN ('0', '')
                   THEN jsonb_build_object('request_id', n.params -> 'request_id') ELSE '{{}}' END AS item,
           NULL::date, NULL::int, NULL::bigint, NULL::int
    FROM staff_notifications n
    WHERE n.read_at IS NULL AND n.kind = ANY (CAST(:work_kinds AS text[]))
      AND NOT EXISTS (
          SELECT FROM owed e JOIN work_steps w ON w.step = e.step
          WHERE w.kind = n.kind AND e.tenant_id = n.tenant_id AND e.user_id = n.user_id
            AND e.case_tenant_id = n.case_tenant_id AND e.case_id = n.case_id
      )
    ORDER BY n.tenant_id, n.user_id, n.case_tenant_id, n.case_id, n.kind, n.created_at, n.id
),
entries AS (
    SELECT e.*, row_number() OVER (
               PARTITION BY e.tenant_id, e.user_id
               ORDER BY e.sort_due COLLATE "C", e.case_id, e.source, e.seq_a, e.seq_at, e.seq_b
           ) AS place
    FROM (SELECT * FROM owed UNION ALL SELECT * FROM waiting) e
),
digests AS (
    INSERT INTO staff_notifications (tenant_id, user_id, kind, params, dedupe_key)
    SELECT tenant_id, user_id, 'digest',
           jsonb_build_object(
               'date', CAST(:day AS text),
               -- A deadline's line is built for the entries listed only (FILTER skips the rest before their JSON).
               'items', jsonb_agg(
                   coalesce(item, {_item("entries", "case_tenant_id")} || jsonb_build_object('case_number', (
                       SELECT c.number FROM cases c
                       WHERE c.tenant_id = entries.case_tenant_id AND c.id = entries.case_id
                   ))) ORDER BY place
               ) FILTER (WHERE place <= :max_items),
               'more', greatest(count(*) - :max_items, 0),
               'overdue', count(*) FILTER (WHERE overdue),
               'waiting', count(*) FILTER (WHERE source = 1 AND place <= :max_items)
           ),
           'digest:' || CAST(:day AS text)
    FROM entries
    GROUP BY tenant_id, user_id
    ORDER BY tenant_id, user_id
    ON CONFLICT ON CONSTRAINT uq_staff_notifications_tenant_id_user_id_dedupe_key DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM digests"""

# Close the petitioner's windows to apply for re-review whose last day has passed (``_check_escalation`` refuses
# them already) and move their clocks in the rollups, as ``portal.supervision.rollups.clock_state`` counts them.
CLOSE_WINDOWS = """
WITH closed AS (
    UPDATE deadlines SET closed_at = now(), close_reason = :reason
    WHERE closed_at IS NULL AND owed_by = 'petitioner' AND step = 'escalation_window' AND due_on < :today
    RETURNING tenant_id, case_id, started_on, step::text AS step, due_on, closed_at
),
moves AS (
    SELECT tenant_id, started_on, step, 'open' AS status, due_on, -1 AS n FROM closed
    UNION ALL
    SELECT tenant_id, started_on, step,
           CASE WHEN (closed_at AT TIME ZONE 'Asia/Shanghai')::date <= due_on THEN 'on_time' ELSE 'late' END,
           CAST(:closed_sentinel AS date), 1
    FROM closed
),
grains AS (
    SELECT tenant_id, 'day' AS grain, started_on AS day, step, status, due_on, n FROM moves
    UNION ALL
    SELECT tenant_id, 'month', date_trunc('month', started_on)::date, step, status, due_on, n FROM moves
),
rolled AS (
    INSERT INTO deadline_rollups AS r (tenant_id, grain, day, step, status, due_on, n)
    SELECT tenant_id, grain, day, step, status, due_on, sum(n)
    FROM grains
    GROUP BY tenant_id, grain, day, step, status, due_on
    HAVING sum(n) <> 0
    ORDER BY tenant_id, grain, day, step, status, due_on
    ON CONFLICT ON CONSTRAINT uq_deadline_rollups_tenant_id_grain_day_step_status_due_on
    DO UPDATE SET n = r.n + excluded.n
    RETURNING 1
)
SELECT count(*) FROM closed"""

"""Schema migrations for the SQLite store, in order. Never edit a released migration:
append a new one. `PRAGMA user_version` records how many have been applied."""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first schema
    (
        """CREATE TABLE intake (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            payload TEXT NOT NULL,
            source TEXT NOT NULL,
            received_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            available_at REAL NOT NULL,
            lease_owner TEXT,
            lease_until REAL,
            last_error TEXT,
            UNIQUE (site, comment_id, version)
        )""",
        "CREATE INDEX intake_ready ON intake(state, available_at)",
        """CREATE TABLE webhook_events (
            site TEXT NOT NULL,
            event_id TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (site, event_id)
        )""",
        """CREATE TABLE cursors (
            site TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (site, name)
        )""",
        """CREATE TABLE actions (
            key TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            action TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('started', 'done', 'failed')),
            attempts INTEGER NOT NULL,
            detail TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            source TEXT NOT NULL,
            text TEXT NOT NULL,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            author_role TEXT NOT NULL,
            url TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            parent_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            received_at REAL NOT NULL,
            decided_at REAL NOT NULL,
            verdict TEXT NOT NULL,
            would_verdict TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            hits TEXT NOT NULL,
            scores TEXT NOT NULL,
            thresholds TEXT NOT NULL,
            model_version TEXT NOT NULL,
            rules_version TEXT NOT NULL,
            action TEXT NOT NULL,
            action_status TEXT NOT NULL,
            action_key TEXT NOT NULL,
            action_attempts INTEGER NOT NULL,
            action_detail TEXT NOT NULL,
            UNIQUE (site, comment_id, version)
        )""",
        "CREATE INDEX decisions_decided ON decisions(decided_at)",
        "CREATE INDEX decisions_verdict ON decisions(verdict, decided_at)",
        """CREATE TABLE decision_hits (
            decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL
        )""",
        "CREATE INDEX decision_hits_rule ON decision_hits(rule_id, decision_id)",
        "CREATE INDEX decision_hits_decision ON decision_hits(decision_id)",
    ),
)

MIGRATIONS += (
    # 2: moderators' verdicts on decisions (confirm / restore / dismiss), with who and when
    (
        """CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            decision_id INTEGER REFERENCES decisions(id) ON DELETE SET NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('confirm', 'restore', 'dismiss')),
            moderator TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            action_key TEXT NOT NULL DEFAULT '',
            action_status TEXT NOT NULL DEFAULT '',
            action_detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX verdicts_comment ON verdicts(site, comment_id, version)",
        "CREATE INDEX verdicts_decision ON verdicts(decision_id)",
    ),
)

# The review page (bot/review): a queue over the log kept up to date by triggers, so the
# pipeline's writers stay unchanged; moderators, their sessions and login attempts.
_QUEUED = "(NEW.verdict IN ('flag', 'hide') OR NEW.would_verdict IN ('flag', 'hide'))"
_STATE_OF_VERDICT = (
    "CASE {v} WHEN 'confirm' THEN 'confirmed' WHEN 'restore' THEN 'restored' ELSE 'dismissed' END"
)
_LATEST_STATE = (
    "COALESCE((SELECT "  # noqa: S608 (fixed SQL fragments, no input)
    + _STATE_OF_VERDICT.format(v="v.verdict")
    + " FROM verdicts v "
    "WHERE v.decision_id = {d}.id AND v.action_status != 'failed' "
    "ORDER BY v.id DESC LIMIT 1), 'pending')"
)
_KIND = "CASE WHEN {d}.verdict IN ('flag', 'hide') THEN {d}.verdict ELSE 'shadow' END"
_MAX_SCORE = (
    "COALESCE((SELECT MAX(value) FROM json_each({d}.scores) WHERE type IN ('real', 'integer')), 0)"
)


def _review_sync() -> str:
    """Trigger body: mirror one decision row into the review tables (state is kept)."""
    return f"""
        DELETE FROM review_queue WHERE decision_id = NEW.id AND NOT {_QUEUED};
        INSERT INTO review_queue(decision_id, decided_at, site, kind, state, max_score)
            SELECT NEW.id, NEW.decided_at, NEW.site, {_KIND.format(d="NEW")},
                   {_LATEST_STATE.format(d="NEW")}, {_MAX_SCORE.format(d="NEW")}
            WHERE {_QUEUED}
            ON CONFLICT(decision_id) DO UPDATE SET decided_at = excluded.decided_at,
                site = excluded.site, kind = excluded.kind, max_score = excluded.max_score;
        DELETE FROM review_scores WHERE decision_id = NEW.id;
        INSERT INTO review_scores(decision_id, label, score)
            SELECT NEW.id, key, value FROM json_each(NEW.scores)
            WHERE {_QUEUED} AND type IN ('real', 'integer');
        DELETE FROM review_labels WHERE decision_id = NEW.id;
        INSERT OR IGNORE INTO review_labels(label, decision_id)
            SELECT json_extract(value, '$.name'), NEW.id FROM json_each(NEW.reasons)
            WHERE {_QUEUED} AND json_extract(value, '$.kind') = 'model'
              AND json_extract(value, '$.name') IS NOT NULL;
        INSERT OR IGNORE INTO review_labels(label, decision_id)
            SELECT l.value, NEW.id FROM json_each(NEW.hits) h, json_each(h.value, '$.labels') l
            WHERE {_QUEUED} AND l.type = 'text';
    """  # noqa: S608


MIGRATIONS += (
    # 3: the review page: queue mirror (+ indexes for paging at 100k rows), moderators,
    # sessions, login attempts
    (
        """CREATE TABLE review_queue (
            decision_id INTEGER PRIMARY KEY REFERENCES decisions(id) ON DELETE CASCADE,
            decided_at REAL NOT NULL,
            site TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('hide', 'flag', 'shadow')),
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'confirmed', 'restored', 'dismissed')),
            max_score REAL NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX review_queue_time ON review_queue(decided_at)",
        "CREATE INDEX review_queue_state ON review_queue(state, decided_at)",
        "CREATE INDEX review_queue_site ON review_queue(site, decided_at)",
        "CREATE INDEX review_queue_kind ON review_queue(kind, decided_at)",
        """CREATE TABLE review_scores (
            decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (decision_id, label)
        ) WITHOUT ROWID""",
        "CREATE INDEX review_scores_label ON review_scores(label, score)",
        """CREATE TABLE review_labels (
            label TEXT NOT NULL,
            decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
            PRIMARY KEY (label, decision_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX review_labels_decision ON review_labels(decision_id)",
        f"""CREATE TRIGGER review_decision_insert AFTER INSERT ON decisions
        BEGIN {_review_sync()} END""",
        f"""CREATE TRIGGER review_decision_update AFTER UPDATE ON decisions
        BEGIN {_review_sync()} END""",
        f"""CREATE TRIGGER review_verdict_insert AFTER INSERT ON verdicts
        WHEN NEW.action_status != 'failed' AND NEW.decision_id IS NOT NULL
        BEGIN
            UPDATE review_queue SET state = {_STATE_OF_VERDICT.format(v="NEW.verdict")}
            WHERE decision_id = NEW.decision_id;
        END""",  # noqa: S608
        # backfill what an older store already logged
        f"""INSERT INTO review_queue(decision_id, decided_at, site, kind, state, max_score)
            SELECT d.id, d.decided_at, d.site, {_KIND.format(d="d")},
                   {_LATEST_STATE.format(d="d")}, {_MAX_SCORE.format(d="d")}
            FROM decisions d
            WHERE d.verdict IN ('flag', 'hide') OR d.would_verdict IN ('flag', 'hide')
        """,  # noqa: S608
        """INSERT INTO review_scores(decision_id, label, score)
            SELECT d.id, j.key, j.value
            FROM review_queue q JOIN decisions d ON d.id = q.decision_id, json_each(d.scores) j
            WHERE j.type IN ('real', 'integer')""",
        """INSERT OR IGNORE INTO review_labels(label, decision_id)
            SELECT json_extract(j.value, '$.name'), d.id
            FROM review_queue q JOIN decisions d ON d.id = q.decision_id, json_each(d.reasons) j
            WHERE json_extract(j.value, '$.kind') = 'model'
              AND json_extract(j.value, '$.name') IS NOT NULL""",
        """INSERT OR IGNORE INTO review_labels(label, decision_id)
            SELECT l.value, d.id
            FROM review_queue q JOIN decisions d ON d.id = q.decision_id,
                json_each(d.hits) h, json_each(h.value, '$.labels') l
            WHERE l.type = 'text'""",
        "CREATE INDEX verdicts_moderator ON verdicts(moderator, id)",
        """CREATE TABLE moderators (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT,
            role TEXT NOT NULL DEFAULT 'moderator' CHECK (role IN ('moderator', 'admin')),
            auth_provider TEXT NOT NULL DEFAULT 'password',
            external_id TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE UNIQUE INDEX moderators_external ON moderators(auth_provider, external_id)
            WHERE external_id IS NOT NULL""",
        """CREATE TABLE review_sessions (
            token_hash TEXT PRIMARY KEY,
            moderator_id INTEGER NOT NULL REFERENCES moderators(id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            ip TEXT NOT NULL DEFAULT '',
            user_agent TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX review_sessions_moderator ON review_sessions(moderator_id)",
        "CREATE INDEX review_sessions_expiry ON review_sessions(expires_at)",
        """CREATE TABLE login_attempts (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            ip TEXT NOT NULL,
            username TEXT NOT NULL,
            ok INTEGER NOT NULL
        )""",
        "CREATE INDEX login_attempts_ip ON login_attempts(ip, at)",
        "CREATE INDEX login_attempts_user ON login_attempts(username, at)",
    ),
    # 4: browsers a moderator has logged in from ("device cookies"), so that someone
    # failing logins for an account cannot lock its moderator out of their own browser
    (
        """CREATE TABLE login_devices (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
        "ALTER TABLE login_attempts ADD COLUMN device TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX login_attempts_device ON login_attempts(device, at) WHERE device != ''",
    ),
)
